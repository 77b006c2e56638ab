/**
 * `tail` never presents a message the chain does not vouch for. Each record it prints is
 * confirmed against a JSON-RPC node by its own claims: the record's transaction receipt
 * must be in the record's block (same block hash), succeeded, and hold at the record's
 * log index a MessagePosted log emitted by the registry, whose decoded event equals the
 * record field for field (digest and head included). The receipt is chosen over waiting
 * for the channel's on-chain head to catch up because it answers for each record at
 * once, mid-stream too, and needs no state at a given block (nodes prune old state, not
 * receipts). One receipt serves every message of a batch, so a batch costs one call.
 * The node is trusted for that answer; `chainmail prove` gives a proof instead.
 */
import { fromRpcLog, RpcClient, type JsonRpcCaller, type RpcLog } from "@chainmail/chain";
import { decodeMessagePosted, MESSAGE_POSTED_TOPIC, toMessageEvent, type MessageEvent } from "@chainmail/protocol";

export type Confirmation =
  /** The node's receipt holds this very event. */
  | { status: "confirmed"; detail: string }
  /** The chain does not vouch for it: the node has no such event, a different one, or could not be asked. */
  | { status: "unconfirmed"; detail: string }
  /** No node to ask: the record is checked against the previous ones only. */
  | { status: "trusting-kafka"; detail: string };

export const TRUSTING_KAFKA: Confirmation = { status: "trusting-kafka", detail: "not confirmed against the chain (no JSON-RPC URL given)" };

interface Receipt {
  status: string;
  blockHash: string;
  blockNumber: string;
  logs: RpcLog[];
}

/** Receipts kept for the next records (a batch's messages share one). */
const RECEIPT_CACHE = 16;

export class ChainConfirmer {
  private readonly rpc: JsonRpcCaller;
  private chainId?: Promise<string>;
  private readonly receipts = new Map<string, Promise<Receipt | null>>();

  /** `registry`: the only registry whose events confirm a record (default: the one the record names). */
  constructor(rpc: JsonRpcCaller | string, private readonly registry?: string) {
    this.rpc = typeof rpc === "string" ? new RpcClient(rpc, { timeoutMs: 10_000 }) : rpc;
  }

  async confirm(e: MessageEvent): Promise<Confirmation> {
    const unconfirmed = (why: string): Confirmation => ({ status: "unconfirmed", detail: `message ${e.seq} of ${e.channelName}: ${why}` });
    try {
      const registry = (this.registry ?? e.registry).toLowerCase();
      if (e.registry.toLowerCase() !== registry) return unconfirmed(`the record names registry ${e.registry}, not ${this.registry}.`);
      this.chainId ??= this.rpc.call<string>("eth_chainId", []).then((id) => BigInt(id).toString());
      const chainId = await this.chainId.catch((error) => {
        this.chainId = undefined; // ask again next time
        throw error;
      });
      if (e.chainId !== chainId) return unconfirmed(`the record names chain ${e.chainId}, the node is chain ${chainId}.`);
      const receipt = await this.receipt(e.transactionHash);
      if (!receipt) return unconfirmed(`the chain has no transaction ${e.transactionHash}.`);
      if (receipt.blockHash.toLowerCase() !== e.blockHash.toLowerCase()) {
        return unconfirmed(`transaction ${e.transactionHash} is in block ${receipt.blockHash} on the chain, not in ${e.blockHash} as the record says.`);
      }
      if (BigInt(receipt.status) !== 1n) return unconfirmed(`transaction ${e.transactionHash} failed on the chain.`);
      const raw = receipt.logs.find((l) => Number(l.logIndex) === e.logIndex);
      if (!raw || raw.address.toLowerCase() !== registry || raw.topics[0] !== MESSAGE_POSTED_TOPIC) {
        return unconfirmed(`transaction ${e.transactionHash} has no MessagePosted event of registry ${registry} at log index ${e.logIndex}.`);
      }
      const onChain = toMessageEvent({ chainId: BigInt(chainId), registry }, decodeMessagePosted({ chainId: BigInt(chainId), address: registry }, fromRpcLog(raw)));
      const differ = (Object.keys(onChain) as Array<keyof MessageEvent>).filter((k) => String(onChain[k]).toLowerCase() !== String(e[k]).toLowerCase());
      if (differ.length > 0) return unconfirmed(`the chain's event at log index ${e.logIndex} of transaction ${e.transactionHash} differs in ${differ.join(", ")}.`);
      return { status: "confirmed", detail: `message ${e.seq} of ${e.channelName} is registry ${registry}'s event in block ${Number(receipt.blockNumber)} (${receipt.blockHash.toLowerCase()})` };
    } catch (error) {
      return unconfirmed(`could not ask the chain (${(error as Error).message.split("\n")[0]}).`);
    }
  }

  private receipt(hash: string): Promise<Receipt | null> {
    const key = hash.toLowerCase();
    let cached = this.receipts.get(key);
    if (!cached) {
      if (this.receipts.size >= RECEIPT_CACHE) this.receipts.delete(this.receipts.keys().next().value!);
      cached = this.rpc.call<Receipt | null>("eth_getTransactionReceipt", [hash]);
      // A failed call is not remembered: the next record asks again.
      cached.catch(() => this.receipts.delete(key));
      this.receipts.set(key, cached);
    }
    return cached;
  }
}
