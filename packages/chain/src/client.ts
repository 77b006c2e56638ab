/**
 * The one JSON-RPC client. It is deliberately lean because the relayer's hot path
 * (sending transactions, reading receipts, the pre-check probe) runs through it:
 * ethers' provider decodes every response with a JavaScript UTF-8 decoder, which
 * costs more than the rest of a receipt's handling; this uses fetch (keep-alive) and
 * the platform's JSON parser. Every call has a timeout (an AbortSignal), so a node
 * that stops answering is an `RpcError` of kind "timeout", never a hang.
 */
import { RpcError } from "./errors.js";
import { fromRpcLog, type RawLog, type RpcLog } from "./logs.js";
import { ProofError, type RawAccountProof, type RawHeader, type RawReceiptForTrie } from "./proof.js";
import { toBlockTag, type BlockTag } from "./quantity.js";

/** How long one call may take unless the caller says otherwise. */
export const DEFAULT_RPC_TIMEOUT_MS = 30_000;

/** Anything that makes one JSON-RPC call: an `RpcClient`, or an ethers provider through `callerOf`. */
export interface JsonRpcCaller {
  call<T>(method: string, params: unknown[]): Promise<T>;
}

export interface RpcClientOptions {
  /** Per-call timeout; default DEFAULT_RPC_TIMEOUT_MS. */
  timeoutMs?: number;
}

export interface CallOptions {
  timeoutMs?: number;
  signal?: AbortSignal;
}

export interface RawReceipt {
  status: number;
  gasUsed: bigint;
  blockNumber: number;
  transactionHash: string;
  logs: RawLog[];
}

export interface BlockRef {
  number: number;
  hash: string;
  timestamp: number;
  /** To notice a reorganisation: the next block the mirror reads must name the last one it published. */
  parentHash?: string;
}

interface JsonRpcResponse<T> {
  result?: T;
  error?: { message?: string; code?: number; data?: unknown };
}

export class RpcClient implements JsonRpcCaller {
  readonly url: string;
  readonly timeoutMs: number;
  private id = 0;

  constructor(url: string, options: RpcClientOptions = {}) {
    this.url = url;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_RPC_TIMEOUT_MS;
  }

  /**
   * One call. A connection that fails before any answer (a kept-alive socket the node
   * reset, as after a pause) is tried once more on a fresh one: the request never
   * reached the node or got no answer, and every call here is safe to repeat (a
   * transaction resent with the same bytes is "already known"). Timeouts are not
   * repeated: the deadline is the caller's bound.
   */
  async call<T>(method: string, params: unknown[] = [], options: CallOptions = {}): Promise<T> {
    try {
      return await this.callOnce<T>(method, params, options);
    } catch (error) {
      if (!(error instanceof RpcError && error.kind === "network") || options.signal?.aborted) throw error;
      return this.callOnce<T>(method, params, options);
    }
  }

  private async callOnce<T>(method: string, params: unknown[], options: CallOptions): Promise<T> {
    const timeoutMs = options.timeoutMs ?? this.timeoutMs;
    const timeout = AbortSignal.timeout(timeoutMs);
    const signal = options.signal ? AbortSignal.any([timeout, options.signal]) : timeout;
    let response: Response | undefined;
    let json: JsonRpcResponse<T>;
    try {
      response = await fetch(this.url, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ jsonrpc: "2.0", id: ++this.id, method, params }),
        signal,
      });
      json = (await response.json()) as JsonRpcResponse<T>;
    } catch (error) {
      if (timeout.aborted) throw new RpcError(`${method}: no answer from the node within ${timeoutMs} ms.`, { kind: "timeout", method, cause: error });
      if (response && !response.ok) throw httpError(method, response.status, error);
      // The body's stream broke (a reset mid-answer): a network failure, not bad JSON.
      if (response && !(error instanceof SyntaxError)) throw new RpcError(`${method}: the connection to ${this.url} broke during the answer (${causeText(error)}).`, { kind: "network", method, cause: error });
      if (response) throw new RpcError(`${method}: the node's answer is not JSON.`, { kind: "malformed", method, cause: error });
      throw new RpcError(`${method}: cannot reach the node at ${this.url} (${causeText(error)}).`, { kind: "network", method, cause: error });
    }
    if (json?.error) {
      const { message, code, data } = json.error;
      throw new RpcError(message ?? `${method} failed (JSON-RPC error ${code}).`, { kind: "rpc", method, code, data });
    }
    if (!response.ok) throw httpError(method, response.status);
    if (!json || !("result" in json)) throw new RpcError(`${method}: the node's answer has neither result nor error.`, { kind: "malformed", method });
    return json.result as T;
  }

  async chainId(options?: CallOptions): Promise<bigint> {
    return BigInt(await this.call<string>("eth_chainId", [], options));
  }

  async blockNumber(): Promise<number> {
    return Number(await this.call<string>("eth_blockNumber", []));
  }

  /** The block's number, hash and time, or null when the node does not have it (yet). */
  async block(tag: BlockTag): Promise<BlockRef | null> {
    const raw = await this.call<{ number: string; hash: string; timestamp: string; parentHash: string } | null>("eth_getBlockByNumber", [toBlockTag(tag), false]);
    return raw ? { number: Number(raw.number), hash: raw.hash.toLowerCase(), timestamp: Number(raw.timestamp), parentHash: raw.parentHash?.toLowerCase() } : null;
  }

  /** The full header (every field its hash covers), or null when the node does not have the block. */
  async header(tag: BlockTag): Promise<RawHeader | null> {
    return this.call<RawHeader | null>("eth_getBlockByNumber", [toBlockTag(tag), false]);
  }

  /** eth_getProof: the account's and `slots`' Merkle proofs at `block`; check them with verifyAccountStorage. */
  async proof(address: string, slots: readonly string[], block: BlockTag): Promise<RawAccountProof> {
    return this.call<RawAccountProof>("eth_getProof", [address, slots, toBlockTag(block)]);
  }

  async receipt(hash: string): Promise<RawReceipt | null> {
    const r = await this.call<null | { status: string; gasUsed: string; blockNumber: string; transactionHash: string; logs: RpcLog[] }>(
      "eth_getTransactionReceipt",
      [hash],
    );
    if (!r || !r.blockNumber) return null;
    return {
      status: Number(r.status),
      gasUsed: BigInt(r.gasUsed),
      blockNumber: Number(r.blockNumber),
      transactionHash: r.transactionHash,
      logs: r.logs.map(fromRpcLog),
    };
  }
}

/**
 * All receipts of the block `header` heads, in transaction order: eth_getBlockReceipts
 * where the node has it, else one eth_getTransactionReceipt per transaction (Hardhat's
 * node has no eth_getBlockReceipts). Every receipt must name that block and its place
 * in it; a node that answers otherwise is refused (ProofError), not believed.
 */
export async function blockReceipts(rpc: JsonRpcCaller, header: RawHeader): Promise<Array<RawReceiptForTrie & { blockHash: string; transactionHash: string }>> {
  type Receipt = RawReceiptForTrie & { blockHash: string; transactionHash: string };
  let receipts: Receipt[];
  try {
    receipts = await rpc.call<Receipt[]>("eth_getBlockReceipts", [header.hash]);
  } catch (error) {
    if (!(error instanceof RpcError && error.kind === "rpc")) throw error;
    const block = await rpc.call<{ hash: string; transactions: string[] } | null>("eth_getBlockByHash", [header.hash, false]);
    if (!block) throw new ProofError("BlockUnavailable", `The node has no block ${header.hash}.`);
    receipts = await Promise.all(block.transactions.map((hash) => rpc.call<Receipt>("eth_getTransactionReceipt", [hash])));
  }
  receipts.forEach((r, i) => {
    if (!r || r.blockHash?.toLowerCase() !== header.hash.toLowerCase() || Number(r.transactionIndex) !== i) {
      throw new ProofError("ReceiptMalformed", `The node's receipt ${i} of block ${header.hash} is not that block's receipt at index ${i}.`);
    }
  });
  return receipts;
}

/** A caller over an ethers provider (e.g. Hardhat's), for code handed a provider rather than a URL. */
export function callerOf(provider: { send(method: string, params: unknown[]): Promise<unknown> }): JsonRpcCaller {
  return { call: <T>(method: string, params: unknown[]) => provider.send(method, params) as Promise<T> };
}

function httpError(method: string, status: number, cause?: unknown): RpcError {
  return new RpcError(`${method}: HTTP ${status} from the node.`, { kind: "http", method, status, cause });
}

function causeText(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } })?.cause;
  return cause?.code ?? cause?.message ?? String((error as Error)?.message ?? error);
}
