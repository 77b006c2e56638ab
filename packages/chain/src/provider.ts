/**
 * The ethers provider for typed contract calls (TypeChain's MessageRegistry) and for
 * signing wallets, built with the same URL and timeout as the `RpcClient` it comes
 * from, so one place decides how ChainMail talks JSON-RPC.
 */
import { FetchRequest, JsonRpcProvider, Network, type JsonRpcPayload, type JsonRpcResult } from "ethers";
import type { RpcClient } from "./client.js";

export interface ProviderOptions {
  /** Known up front (ask `rpc.chainId()`), so ethers never probes or retries "detect network" forever. */
  chainId: bigint;
  /** How often ethers polls (receipts, `tx.wait()`). */
  pollingIntervalMs?: number;
  /** How long ethers gathers calls into one JSON-RPC batch; omit for ethers' default. */
  batchStallMs?: number;
  /** Largest batch; 1 turns batching off. */
  batchMaxCount?: number;
}

export function createProvider(rpc: RpcClient, options: ProviderOptions): JsonRpcProvider {
  const request = new FetchRequest(rpc.url);
  request.timeout = rpc.timeoutMs;
  // cacheTimeout -1: ethers would otherwise answer identical requests (the pending
  // nonce, isNonceUsed) from a 250 ms cache; every read must be fresh.
  return new RetryOnResetProvider(request, Network.from(options.chainId), {
    staticNetwork: true,
    cacheTimeout: -1,
    ...(options.pollingIntervalMs !== undefined && { pollingInterval: options.pollingIntervalMs }),
    ...(options.batchStallMs !== undefined && { batchStallTime: options.batchStallMs }),
    ...(options.batchMaxCount !== undefined && { batchMaxCount: options.batchMaxCount }),
  });
}

/** A socket the node closed or reset before answering (Node's and undici's codes). */
export function isConnectionReset(error: unknown): boolean {
  const e = error as { code?: unknown; cause?: { code?: unknown }; message?: unknown } | null;
  const code = String(e?.code ?? e?.cause?.code ?? "");
  return ["ECONNRESET", "EPIPE", "ECONNREFUSED", "UND_ERR_SOCKET", "UND_ERR_CLOSED"].includes(code) || /socket hang up|other side closed/i.test(String(e?.message ?? ""));
}

/**
 * Like RpcClient, the provider sends a request again once when the connection broke
 * before the answer (a kept-alive socket reset after the node paused): one reset must
 * not become a failed pre-check. Timeouts are not repeated (FetchRequest's timeout is
 * the bound).
 */
class RetryOnResetProvider extends JsonRpcProvider {
  override async _send(payload: JsonRpcPayload | JsonRpcPayload[]): Promise<JsonRpcResult[]> {
    try {
      return await super._send(payload);
    } catch (error) {
      if (!isConnectionReset(error) || this.destroyed) throw error;
      return super._send(payload);
    }
  }
}
