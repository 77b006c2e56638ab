/** Small helpers several relayer suites share: reading a refused gRPC call, summing a metric, a JSON-RPC proxy (and the CLI runner, from the testkit). */
import http from "node:http";
import { expect } from "chai";
import { Code, ConnectError } from "@connectrpc/connect";
import { ErrorInfoSchema, RetryInfoSchema } from "@chainmail/protocol/grpc";
import { runChainmail } from "@chainmail/testkit";
import type { RelayerApp } from "@chainmail/relayer";

/** Runs `chainmail ARGS` as a user would. */
export const runCli = (args: string[]) => runChainmail(args);


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

/** The sum of a metric's series (every label set) in the relayer's /metrics. */
export async function metric(app: RelayerApp, name: string): Promise<number> {
  const text = (await app.inject({ method: "GET", url: "/metrics" })).body;
  const lines = text.split("\n").filter((l) => l.startsWith(name) && !l.startsWith("#"));
  return lines.reduce((sum, l) => sum + Number(l.split(" ").pop()), 0);
}

/**
 * A JSON-RPC proxy in front of `nodeUrl`: the node as the relayer sees it. `answer` gets
 * each request's body and the node's answer, and returns what the relayer receives
 * (a lying node rewrites it; a watching test counts the requests).
 */
export async function rpcProxy(
  nodeUrl: string,
  answer: (request: string, response: string) => string,
  /** Holds a request back (it reaches the node only when the promise settles): a slow node, or a test's gate. */
  hold?: (request: string) => Promise<void> | undefined,
): Promise<{ url: string; close(): void }> {
  const server = http.createServer((req, res) => {
    let body = "";
    req.on("data", (d) => (body += d));
    req.on("end", async () => {
      await hold?.(body);
      const upstream = await fetch(nodeUrl, { method: "POST", headers: { "content-type": "application/json" }, body });
      res.writeHead(upstream.status, { "content-type": "application/json" }).end(answer(body, await upstream.text()));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, close: () => server.close() };
}
