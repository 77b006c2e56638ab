/**
 * Clients nobody here wrote, against a listening relayer on a real hardhat node:
 * grpcurl (through server reflection, without the .proto) and a Python client whose
 * stubs grpcio-tools generates from the proto. Each posts a message signed by
 * `chainmail sign` and reads it back through Subscribe. scripts/grpc-tools.sh (run by
 * scripts/test.sh) installs both into .cache/; a missing tool fails with that advice.
 */
import { expect } from "chai";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { buildApp, type RelayerApp } from "@chainmail/relayer";
import { CHAINMAIL_CLI, devPrivateKey, REPO_ROOT } from "@chainmail/testkit";
import { startFixture, type Fixture } from "./fixture.js";

const GRPCURL = path.join(REPO_ROOT, ".cache/go-bin/grpcurl");
const PYTHON = path.join(REPO_ROOT, ".cache/python/bin/python");
const PROTO_ROOT = path.join(REPO_ROOT, "packages/protocol/proto");

function run(command: string, args: string[], { input, env = {} }: { input?: string; env?: Record<string, string> } = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: REPO_ROOT, env: { ...process.env, ...env }, stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), 90_000);
    child.on("error", reject);
    child.on("exit", (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr });
    });
    child.stdin.end(input ?? "");
  });
}

function needTool(file: string, name: string): void {
  if (!existsSync(file)) throw new Error(`${name} is not installed at ${file}: run "bash scripts/grpc-tools.sh" (scripts/test.sh runs it) and see why it could not install it.`);
}

describe("gRPC clients nobody here wrote: grpcurl and Python (real hardhat node)", function () {
  let f: Fixture;
  let app: RelayerApp;
  let httpUrl: string;
  let grpcAddress: string;
  const sign = async (text: string, grpc = false) => {
    const signed = await run(process.execPath, [CHAINMAIL_CLI, "sign", "--relayer", httpUrl, "--channel", "general", "--text", text, ...(grpc ? ["--grpc"] : [])], {
      env: { CHAINMAIL_KEY: devPrivateKey(2) },
    });
    expect(signed.code, signed.stderr).to.equal(0);
    return signed.stdout;
  };

  before(async function () {
    f = await startFixture();
    app = await buildApp(f.config(), { defaultMetrics: false });
    httpUrl = await app.listen({ host: "127.0.0.1", port: 0 });
    grpcAddress = new URL(await app.grpc.listen({ host: "127.0.0.1", port: 0 })).host;
  });
  after(async function () {
    await app?.close();
    await f?.node.stop();
  });

  it("grpcurl lists the services by reflection, posts a signed message and reads it back through Subscribe", async function () {
    needTool(GRPCURL, "grpcurl");
    const list = await run(GRPCURL, ["-plaintext", grpcAddress, "list"]);
    expect(list.code, list.stderr).to.equal(0);
    expect(list.stdout.split("\n")).to.include.members(["chainmail.v1.RelayerService", "grpc.health.v1.Health"]);

    const posted = await run(GRPCURL, ["-plaintext", "-d", "@", grpcAddress, "chainmail.v1.RelayerService/PostMessage"], { input: await sign("hello from grpcurl", true) });
    expect(posted.code, posted.stderr).to.equal(0);
    const { outcome } = JSON.parse(posted.stdout);
    expect(outcome.status).to.equal("STATUS_CONFIRMED");

    // Subscribe never ends by itself: grpcurl stops at -max-time, after printing what came.
    const followed = await run(GRPCURL, ["-plaintext", "-max-time", "3", "-d", JSON.stringify({ channel: "general", fromSeq: outcome.seq }), grpcAddress, "chainmail.v1.RelayerService/Subscribe"]);
    expect(followed.stderr).to.contain("DeadlineExceeded");
    const first = JSON.parse(followed.stdout.slice(0, followed.stdout.indexOf("\n}\n") + 2));
    expect(first.message.digest).to.equal(outcome.digest);
    expect(first.message.text).to.equal("hello from grpcurl");

    const refused = await run(GRPCURL, ["-plaintext", "-d", "@", grpcAddress, "chainmail.v1.RelayerService/PostMessage"], { input: (await sign("replayed", true)).replace(/"nonce":"\d+"/, `"nonce":"${JSON.parse(await sign("x")).nonce}"`) });
    expect(refused.code).to.not.equal(0);
    expect(refused.stderr).to.contain("Code: InvalidArgument").and.to.contain('"reason": "BadSignature"');
  });

  it("a Python client generated with grpcio-tools posts a signed message and reads it back through Subscribe", async function () {
    needTool(PYTHON, "Python with grpcio-tools");
    const out = mkdtempSync(path.join(tmpdir(), "chainmail-py-"));
    const generated = await run(PYTHON, ["-m", "grpc_tools.protoc", "-I", PROTO_ROOT, `--python_out=${out}`, `--grpc_python_out=${out}`, "chainmail/v1/relayer.proto"]);
    expect(generated.code, generated.stderr).to.equal(0);
    const result = await run(PYTHON, [path.join(REPO_ROOT, "relayer/test/python/chainmail_client.py"), grpcAddress], {
      input: await sign("hello from Python"),
      env: { PYTHONPATH: out },
    });
    expect(result.code, result.stderr).to.equal(0);
    const answer = JSON.parse(result.stdout);
    expect(answer.status).to.equal("STATUS_CONFIRMED");
    expect(answer.subscribed.digest).to.equal(answer.digest);
    expect(answer.subscribed.seq).to.equal(answer.seq);
    expect(answer.subscribed.text).to.equal("hello from Python");
  });
});
