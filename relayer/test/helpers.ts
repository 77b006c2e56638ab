/** Small helpers several relayer suites share: running the chainmail CLI, and reading a refused gRPC call. */
import { spawn } from "node:child_process";
import { expect } from "chai";
import { Code, ConnectError } from "@connectrpc/connect";
import { ErrorInfoSchema, RetryInfoSchema } from "@chainmail/protocol/grpc";
import { CHAINMAIL_CLI, REPO_ROOT } from "@chainmail/testkit";

/** Runs `chainmail ARGS` as a user would (the built CLI), killed after 60 s. */
export function runCli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CHAINMAIL_CLI, ...args], { cwd: REPO_ROOT, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`chainmail ${args.join(" ")} did not exit within 60 s: ${stdout}\n${stderr}`));
    }, 60_000);
    child.on("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** The status, ErrorInfo reason, sentence and retry delay of a gRPC call that must be refused. */
export async function refusal(call: Promise<unknown>): Promise<{ code: Code; reason: string; message: string; retryMs?: number }> {
  try {
    await call;
  } catch (error) {
    const e = ConnectError.from(error);
    const info = e.findDetails(ErrorInfoSchema)[0];
    const retry = e.findDetails(RetryInfoSchema)[0];
    expect(info?.domain, `ErrorInfo on ${e.message}`).to.equal("chainmail.v1");
    const retryMs = retry?.retryDelay ? Number(retry.retryDelay.seconds) * 1000 + retry.retryDelay.nanos / 1e6 : undefined;
    return { code: e.code, reason: info.reason, message: e.rawMessage, retryMs };
  }
  throw new Error("the call was not refused");
}
