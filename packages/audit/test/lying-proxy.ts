/**
 * A JSON-RPC endpoint that lies: an HTTP server in front of a real hardhat node that
 * forwards every request and lets a test rewrite the answer (or replace it with an
 * error). The chain behind it is real; only the answers are forged, as a hostile or
 * broken RPC provider would forge them.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export interface RpcRequest {
  method: string;
  params: unknown[];
}
/** Returns the result to send (possibly changed), or `{ error }` to answer with a JSON-RPC error instead. */
export type Rewrite = (request: RpcRequest, result: unknown) => unknown | { error: { code: number; message: string } };

export interface LyingProxy {
  url: string;
  /** Replace the rewrite (default: honest). */
  lie(rewrite: Rewrite | null): void;
  close(): Promise<void>;
}

export class RpcErrorAnswer {
  constructor(readonly error: { code: number; message: string }) {}
}

export async function startLyingProxy(upstream: string): Promise<LyingProxy> {
  let rewrite: Rewrite | null = null;
  let id = 0;
  const answer = async (request: { id: unknown; method: string; params?: unknown[] }) => {
    const response = await fetch(upstream, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ jsonrpc: "2.0", id: ++id, method: request.method, params: request.params ?? [] }),
    });
    const json = (await response.json()) as { result?: unknown; error?: unknown };
    if (json.error) return { jsonrpc: "2.0", id: request.id, error: json.error };
    if (!rewrite) return { jsonrpc: "2.0", id: request.id, result: json.result };
    const result = rewrite({ method: request.method, params: request.params ?? [] }, structuredClone(json.result));
    if (result instanceof RpcErrorAnswer) return { jsonrpc: "2.0", id: request.id, error: result.error };
    return { jsonrpc: "2.0", id: request.id, result };
  };
  const server: Server = createServer((req, res) => {
    let body = "";
    req.on("data", (chunk) => (body += chunk));
    req.on("end", async () => {
      try {
        const parsed = JSON.parse(body);
        const out = Array.isArray(parsed) ? await Promise.all(parsed.map(answer)) : await answer(parsed);
        res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(out));
      } catch (error) {
        res.writeHead(500).end(String(error));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    lie: (r) => (rewrite = r),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
