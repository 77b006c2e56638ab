/**
 * The gRPC interface's contract: `buf lint` passes on proto/, and `buf breaking` finds
 * nothing that would break clients built from the committed baseline (proto-baseline/),
 * while it does catch a breaking change (so the check can fail).
 */
import { expect } from "chai";
import { spawnSync } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const PKG = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const BUF = path.join(PKG, "node_modules/.bin/buf");

function buf(args: string[], cwd = path.join(PKG, "proto")) {
  const run = spawnSync(BUF, args, { cwd, encoding: "utf8" });
  if (run.error) throw new Error(`buf could not run (${run.error.message}); it comes from npm (@bufbuild/buf): run scripts/setup.sh.`);
  return { code: run.status, output: `${run.stdout}${run.stderr}` };
}

describe("chainmail.v1 proto (buf)", function () {
  this.timeout(60_000);

  it("buf lint passes", function () {
    const lint = buf(["lint"]);
    expect(lint.output).to.equal("");
    expect(lint.code).to.equal(0);
  });

  it("buf breaking against the committed baseline finds nothing", function () {
    const breaking = buf(["breaking", "--against", "../proto-baseline"]);
    expect(breaking.output).to.equal("");
    expect(breaking.code).to.equal(0);
  });

  it("buf breaking catches a renamed field and a removed method", function () {
    const dir = mkdtempSync(path.join(tmpdir(), "chainmail-proto-"));
    cpSync(path.join(PKG, "proto"), dir, { recursive: true });
    const file = path.join(dir, "chainmail/v1/relayer.proto");
    writeFileSync(file, readFileSync(file, "utf8").replace("string author = 2;", "string writer = 2;").replace(/ *rpc Subscribe\(.*\n/, ""));
    const breaking = buf(["breaking", "--against", path.join(PKG, "proto-baseline")], dir);
    expect(breaking.code).to.not.equal(0);
    expect(breaking.output).to.contain('changed name from "author" to "writer"');
    expect(breaking.output).to.match(/Previously present RPC "Subscribe" on service "RelayerService" was deleted/);
  });
});
