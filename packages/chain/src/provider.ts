/**
 * The ethers provider for typed contract calls (TypeChain's MessageRegistry) and for
 * signing wallets, built with the same URL and timeout as the `RpcClient` it comes
 * from, so one place decides how ChainMail talks JSON-RPC.
 */
import { FetchRequest, JsonRpcProvider, Network } from "ethers";
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
  return new JsonRpcProvider(request, Network.from(options.chainId), {
    staticNetwork: true,
    cacheTimeout: -1,
    ...(options.pollingIntervalMs !== undefined && { pollingInterval: options.pollingIntervalMs }),
    ...(options.batchStallMs !== undefined && { batchStallTime: options.batchStallMs }),
    ...(options.batchMaxCount !== undefined && { batchMaxCount: options.batchMaxCount }),
  });
}
