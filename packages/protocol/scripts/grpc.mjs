// Generates the gRPC interface's TypeScript (messages and service descriptors, with
// protoc-gen-es) from proto/ into src/gen/ with `buf generate`: run before `tsc -b`;
// the generated folder is not committed. buf comes from npm (@bufbuild/buf, the same CLI
// as the Go module), so a fresh clone builds without Go.
import { execFileSync } from "node:child_process";
import { rmSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const pkg = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const bin = path.join(pkg, "node_modules/.bin");
rmSync(path.join(pkg, "src/gen"), { recursive: true, force: true });
try {
  execFileSync(path.join(bin, "buf"), ["generate"], {
    cwd: path.join(pkg, "proto"),
    env: { ...process.env, PATH: `${bin}${path.delimiter}${process.env.PATH}` },
    stdio: "inherit",
  });
} catch {
  console.error("protocol: buf generate failed (see above); the gRPC code in src/gen/ was not generated.");
  process.exit(1);
}
