/**
 * A lean JSON-RPC client for the relayer's hot path (sending transactions, reading
 * receipts, the pre-check probe). ethers' provider decodes every response with a
 * JavaScript UTF-8 decoder, which costs more than the rest of a receipt's handling;
 * this one uses fetch (keep-alive) and the platform's JSON parser. Everything else
 * still goes through the ethers provider.
 */
export class RpcError extends Error {
  constructor(
    message: string,
    readonly code?: number,
    readonly data?: unknown,
  ) {
    super(message);
    this.name = "RpcError";
  }
}

export interface RawLog {
  address: string;
  topics: string[];
  data: string;
  blockNumber: number;
  blockHash: string;
  transactionHash: string;
  index: number;
}

export interface RawReceipt {
  status: number;
  gasUsed: bigint;
  blockNumber: number;
  transactionHash: string;
  logs: RawLog[];
}

export class RawRpc {
  private id = 0;

  constructor(private readonly url: string) {}

  async call<T>(method: string, params: unknown[]): Promise<T> {
    const response = await fetch(this.url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ jsonrpc: "2.0", id: ++this.id, method, params }),
    });
    const json = (await response.json()) as { result?: T; error?: { message: string; code?: number; data?: unknown } };
    if (json.error) throw new RpcError(json.error.message, json.error.code, json.error.data);
    if (!response.ok) throw new RpcError(`HTTP ${response.status} from the node`);
    return json.result as T;
  }

  async receipt(hash: string): Promise<RawReceipt | null> {
    const r = await this.call<null | {
      status: string;
      gasUsed: string;
      blockNumber: string;
      transactionHash: string;
      logs: Array<{ address: string; topics: string[]; data: string; blockNumber: string; blockHash: string; transactionHash: string; logIndex: string }>;
    }>("eth_getTransactionReceipt", [hash]);
    if (!r || !r.blockNumber) return null;
    return {
      status: Number(r.status),
      gasUsed: BigInt(r.gasUsed),
      blockNumber: Number(r.blockNumber),
      transactionHash: r.transactionHash,
      logs: r.logs.map((l) => ({
        address: l.address,
        topics: l.topics,
        data: l.data,
        blockNumber: Number(l.blockNumber),
        blockHash: l.blockHash,
        transactionHash: l.transactionHash,
        index: Number(l.logIndex),
      })),
    };
  }
}
