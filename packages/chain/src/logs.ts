/**
 * The one chunked log reader. Nodes refuse or time out on unbounded `eth_getLogs`, so
 * every reader of the registry's history asks in block ranges; this is the one place
 * that decides how: one range size that halves while the node says the range or the
 * answer is too large (and stays halved: the node's limit does not go away), and a
 * bounded number of retries with backoff on transient failures (timeouts, dropped
 * connections, 5xx). A timeout also halves the range, as a wide range is its usual cause.
 */
import { isRangeTooLarge, isTransient, RpcError } from "./errors.js";
import type { JsonRpcCaller } from "./client.js";
import { toQuantity } from "./quantity.js";

/** A log as the chain reports it, with numbers decoded. */
export interface RawLog {
  address: string;
  topics: readonly string[];
  data: string;
  blockNumber: number;
  blockHash: string;
  transactionHash: string;
  /** Position of the log in its block (JSON-RPC `logIndex`). */
  index: number;
  /** True when the node reports the log as removed by a reorg; absent if the node does not say. */
  removed?: boolean;
}

/** A log as JSON-RPC sends it (quantities in hex). */
export interface RpcLog {
  address: string;
  topics: string[];
  data: string;
  blockNumber: string;
  blockHash: string;
  transactionHash: string;
  logIndex: string;
  removed?: boolean;
}

export function fromRpcLog(l: RpcLog): RawLog {
  const log: RawLog = {
    address: l.address,
    topics: l.topics,
    data: l.data,
    blockNumber: Number(l.blockNumber),
    blockHash: l.blockHash,
    transactionHash: l.transactionHash,
    index: Number(l.logIndex),
  };
  if (typeof l.removed === "boolean") log.removed = l.removed;
  return log;
}

export interface LogFilter {
  address?: string | string[];
  /** Per position: one topic, any of several, or null for any. */
  topics?: ReadonlyArray<string | readonly string[] | null>;
}

export interface LogRetry {
  reason: "range-too-large" | "transient";
  fromBlock: number;
  toBlock: number;
  /** Blocks per request from now on. */
  chunkBlocks: number;
  /** Transient failures so far for this range. */
  failures: number;
  error: unknown;
}

export interface ReadLogsOptions {
  fromBlock: number;
  toBlock: number;
  /** Blocks per request to start with; default 2,000. */
  chunkBlocks?: number;
  /** Transient failures in a row tolerated per range before the error is thrown; default 3. */
  retries?: number;
  /** First backoff after a transient failure, doubled each time; default 250 ms. */
  retryDelayMs?: number;
  /** Told about every retry (for logs and metrics). */
  onRetry?: (retry: LogRetry) => void;
}

export interface LogChunk {
  fromBlock: number;
  toBlock: number;
  /** In chain order: block, then position in the block. */
  logs: RawLog[];
}

export const DEFAULT_LOG_CHUNK_BLOCKS = 2_000;

/** Reads the logs matching `filter` in [fromBlock, toBlock], one chunk of blocks at a time, in order. */
export async function* readLogs(rpc: JsonRpcCaller, filter: LogFilter, options: ReadLogsOptions): AsyncGenerator<LogChunk> {
  const retries = options.retries ?? 3;
  const retryDelayMs = options.retryDelayMs ?? 250;
  let chunkBlocks = Math.max(1, Math.floor(options.chunkBlocks ?? DEFAULT_LOG_CHUNK_BLOCKS));
  let failures = 0;
  let from = options.fromBlock;
  while (from <= options.toBlock) {
    const to = Math.min(options.toBlock, from + chunkBlocks - 1);
    let answer: RpcLog[];
    try {
      answer = await rpc.call<RpcLog[]>("eth_getLogs", [{ ...filter, fromBlock: toQuantity(from), toBlock: toQuantity(to) }]);
    } catch (error) {
      const timedOut = isTimeout(error);
      if ((isRangeTooLarge(error) || timedOut) && to > from) {
        chunkBlocks = Math.max(1, Math.floor((to - from + 1) / 2));
        if (!timedOut) {
          options.onRetry?.({ reason: "range-too-large", fromBlock: from, toBlock: to, chunkBlocks, failures, error });
          continue;
        }
      }
      if (!isTransient(error) || failures >= retries) throw error;
      failures++;
      options.onRetry?.({ reason: "transient", fromBlock: from, toBlock: to, chunkBlocks, failures, error });
      await new Promise((resolve) => setTimeout(resolve, retryDelayMs * 2 ** (failures - 1)));
      continue;
    }
    failures = 0;
    const logs = answer.map(fromRpcLog);
    logs.sort((a, b) => a.blockNumber - b.blockNumber || a.index - b.index);
    yield { fromBlock: from, toBlock: to, logs };
    from = to + 1;
  }
}

/** All logs of the range in one array, for callers that want them at once. */
export async function collectLogs(rpc: JsonRpcCaller, filter: LogFilter, options: ReadLogsOptions): Promise<RawLog[]> {
  const all: RawLog[] = [];
  for await (const chunk of readLogs(rpc, filter, options)) all.push(...chunk.logs);
  return all;
}

function isTimeout(error: unknown): boolean {
  return error instanceof RpcError ? error.kind === "timeout" : (error as { code?: unknown } | null)?.code === "TIMEOUT";
}
