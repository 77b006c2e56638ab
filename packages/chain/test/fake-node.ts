/**
 * A small JSON-RPC node over HTTP for the cases a real node will not produce on
 * demand: one that never answers, refuses ranges, fails with 5xx, or answers with
 * an error object. Each test gives it a handler; it records every request.
 */
import { createServer, type Server } from "node:http";

export type Answer =
  | { result: unknown }
  | { error: { code: number; message: string; data?: unknown } }
  | { status: number; body?: string }
  | "hang"
  | "reset";

export interface FakeNode {
  url: string;
  requests: Array<{ method: string; params: any[] }>;
  close(): Promise<void>;
}

export async function startFakeNode(handle: (method: string, params: any[]) => Answer): Promise<FakeNode> {
  const requests: FakeNode["requests"] = [];
  const server: Server = createServer((req, res) => {
    let body = "";
    req.on("data", (d) => (body += d));
    req.on("end", () => {
      const { id, method, params } = JSON.parse(body);
      requests.push({ method, params });
      const answer = handle(method, params);
      if (answer === "hang") return; // never answers; close() cuts it off
      if (answer === "reset") {
        req.socket.destroy(); // as a node that resumed after a pause resets its kept-alive connections
        return;
      }
      if ("status" in answer) {
        res.writeHead(answer.status, { "content-type": "text/plain" }).end(answer.body ?? "");
        return;
      }
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ jsonrpc: "2.0", id, ...answer }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${address.port}`,
    requests,
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** Parses a quantity the way geth does: canonical hex only ("0x0100" is refused). */
export function strictQuantity(value: string): number {
  if (!/^0x(0|[1-9a-f][0-9a-f]*)$/.test(value)) throw new Error(`hex number with leading zero digits: ${value}`);
  return parseInt(value, 16);
}

/** A log as a node sends it, one per block, for fake eth_getLogs answers. */
export function fakeLog(block: number, extra: Record<string, unknown> = {}) {
  const hex = (n: number) => "0x" + n.toString(16);
  return {
    address: "0x5fbdb2315678afecb367f032d93f642f64180aa3",
    topics: ["0x" + "11".repeat(32)],
    data: "0x",
    blockNumber: hex(block),
    blockHash: "0x" + block.toString(16).padStart(64, "0"),
    transactionHash: "0x" + (block + 1).toString(16).padStart(64, "0"),
    logIndex: "0x0",
    ...extra,
  };
}

/** The error `promise` rejects with; fails the test if it resolves. */
export async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error("expected a rejection");
}
