/**
 * What the relayer knows about messages' fates, kept in memory but always rebuilt
 * from the chain: the relayer is stateless, the logs are the record. A bounded index
 * digest -> outcome is filled from our own receipts, rebuilt from recent logs at
 * start, and caught up from the chain when asked about a digest it does not know.
 */
import {
  decodeMessageRejected,
  MessagePostedDecoder,
  MESSAGE_POSTED_TOPIC,
  MESSAGE_REJECTED_TOPIC,
  reasonName,
  reasonSentence,
  type PostedMessage,
  type RejectedMessage,
} from "@chainmail/protocol";
import { collectLogs, readLogs } from "@chainmail/chain";
import type { Chain } from "./chain.js";

export interface ConfirmedOutcome {
  status: "confirmed";
  digest: string;
  channel: string;
  seq: bigint;
  head: string;
  transactionHash: string;
  blockNumber: number;
  logIndex: number;
}

export interface RejectedOutcome {
  status: "rejected";
  digest: string;
  channel: string;
  reasonCode: number;
  code: string;
  message: string;
  transactionHash?: string;
  blockNumber?: number;
}

export type Outcome = ConfirmedOutcome | RejectedOutcome;

export function confirmedFrom(posted: PostedMessage): ConfirmedOutcome {
  return {
    status: "confirmed",
    digest: posted.digest,
    channel: posted.channel,
    seq: posted.seq,
    head: posted.head,
    transactionHash: posted.transactionHash,
    blockNumber: posted.blockNumber,
    logIndex: posted.logIndex,
  };
}

export function rejectedFrom(rejected: RejectedMessage): RejectedOutcome {
  return {
    status: "rejected",
    digest: rejected.digest,
    channel: rejected.channel,
    reasonCode: rejected.reason,
    code: reasonName(rejected.reason),
    message: reasonSentence(rejected.reason),
    transactionHash: rejected.transactionHash,
    blockNumber: rejected.blockNumber,
  };
}

/** Logs one page of the index's scan aims at: the page's block range adapts to the chain's density. */
export const INDEX_PAGE_LOGS = 2_000;
/** Unknown digests remembered as "not in the history before the index's window". */
export const UNKNOWN_DIGESTS_KEPT = 10_000;

/**
 * Bounded whatever the chain's history: at most `maxEntries` outcomes (and as many
 * author+nonce keys), the oldest dropped first, and the scan holds one page of logs
 * at a time, a page's block range shrinking or growing so that it carries about
 * `pageLogs` logs (never more blocks than `chunkBlocks`).
 */
export class OutcomeIndex {
  private readonly byDigest = new Map<string, Outcome>();
  /** author:nonce -> digest of the message that used the nonce. */
  private readonly byNonce = new Map<string, string>();
  /** Digests looked up in the history before the index's window and not found there (bounded, oldest dropped). */
  private readonly unknownBefore = new Set<string>();
  private scannedTo = -1;
  /** The first block the index read: a lookup need only search the history before it. */
  private windowStart = 0;
  private catchingUp?: Promise<void>;
  private readonly decoder: MessagePostedDecoder;
  private pageBlocks: number;
  /** What the scans did, for tests and metrics: pages read and the largest page's log count. */
  readonly scanStats = { pages: 0, logs: 0, maxPageLogs: 0 };

  constructor(
    private readonly chain: Chain,
    private readonly maxEntries: number,
    private readonly chunkBlocks: number,
    private readonly pageLogs = INDEX_PAGE_LOGS,
  ) {
    this.decoder = new MessagePostedDecoder(chain.location);
    // Start with one block: the chain's density is unknown, and a dense first page would be the peak.
    this.pageBlocks = 1;
  }

  get size(): number {
    return this.byDigest.size;
  }

  get nonceEntries(): number {
    return this.byNonce.size;
  }

  /** Reads the last `lookbackBlocks` of logs (from the registry's deployment at most). */
  async rebuild(lookbackBlocks: number): Promise<void> {
    const latest = await this.chain.rpc.blockNumber();
    this.windowStart = Math.max(this.chain.deploymentBlock, latest - lookbackBlocks);
    this.scannedTo = this.windowStart - 1;
    await this.catchUp();
  }

  /** Reads logs from where the index stopped to the chain head; shared by concurrent callers. */
  catchUp(): Promise<void> {
    this.catchingUp ??= this.scanToHead().finally(() => (this.catchingUp = undefined));
    return this.catchingUp;
  }

  private async scanToHead(): Promise<void> {
    const latest = await this.chain.rpc.blockNumber();
    const filter = { address: this.chain.location.address, topics: [[MESSAGE_POSTED_TOPIC, MESSAGE_REJECTED_TOPIC]] };
    while (this.scannedTo < latest) {
      const from = this.scannedTo + 1;
      const to = Math.min(latest, from + this.pageBlocks - 1);
      // One page in memory at a time; its logs are reduced to outcomes and dropped.
      const logs = await collectLogs(this.chain.rpc, filter, { fromBlock: from, toBlock: to, chunkBlocks: this.pageBlocks });
      for (const log of logs) this.recordLog(log);
      this.scannedTo = to;
      this.scanStats.pages++;
      this.scanStats.logs += logs.length;
      this.scanStats.maxPageLogs = Math.max(this.scanStats.maxPageLogs, logs.length);
      this.pageBlocks = nextPageBlocks(this.pageBlocks, to - from + 1, logs.length, this.pageLogs, this.chunkBlocks);
    }
  }

  recordLog(log: Parameters<MessagePostedDecoder["decode"]>[0]): Outcome {
    if (log.topics[0] === MESSAGE_POSTED_TOPIC) {
      const posted = this.decoder.decode(log);
      const outcome = confirmedFrom(posted);
      this.record(outcome, posted.author, posted.nonce);
      return outcome;
    }
    const outcome = rejectedFrom(decodeMessageRejected({ ...log, blockNumber: Number(log.blockNumber) }));
    this.record(outcome);
    return outcome;
  }

  /**
   * A posted outcome always wins over a rejection of the same digest: a message that
   * landed and was then sent again (after a crash) is rejected NonceUsed the second
   * time, and its true fate is the first, posted one.
   */
  record(outcome: Outcome, author?: string, nonce?: bigint): void {
    const key = outcome.digest.toLowerCase();
    const known = this.byDigest.get(key);
    if (known?.status === "confirmed") return;
    if (known && outcome.status === "rejected") return; // the first outcome stays
    if (this.byDigest.size >= this.maxEntries) {
      const oldest = this.byDigest.keys().next().value!;
      this.byDigest.delete(oldest);
    }
    this.byDigest.delete(key);
    this.byDigest.set(key, outcome);
    if (author !== undefined && nonce !== undefined) {
      if (this.byNonce.size >= this.maxEntries) this.byNonce.delete(this.byNonce.keys().next().value!);
      this.byNonce.set(nonceKey(author, nonce), key);
    }
  }

  get(digest: string): Outcome | undefined {
    return this.byDigest.get(digest.toLowerCase());
  }

  /** The outcome of `digest`, catching up with the chain if the index does not know it. */
  async find(digest: string): Promise<Outcome | undefined> {
    const known = this.get(digest);
    if (known) return known;
    await this.catchUp();
    const caught = this.get(digest);
    if (caught) return caught;
    // Rejections index the digest: one query finds old ones. The index has read
    // everything from its window's start, so only the history before it is searched,
    // and once per digest: a digest not found there stays not found (the scan of new
    // blocks catches anything that lands later).
    const key = digest.toLowerCase();
    if (this.windowStart <= this.chain.deploymentBlock || this.unknownBefore.has(key)) return undefined;
    const rejected = await collectLogs(
      this.chain.rpc,
      { address: this.chain.location.address, topics: [MESSAGE_REJECTED_TOPIC, null, null, key] },
      { fromBlock: this.chain.deploymentBlock, toBlock: this.windowStart - 1, chunkBlocks: this.windowStart - this.chain.deploymentBlock },
    );
    if (rejected.length > 0) return this.recordLog(rejected[0]);
    if (this.unknownBefore.size >= UNKNOWN_DIGESTS_KEPT) this.unknownBefore.delete(this.unknownBefore.values().next().value!);
    this.unknownBefore.add(key);
    return undefined;
  }

  /**
   * Which message used `author`'s `nonce`, if any: the index first, then the author's
   * MessagePosted logs (author is an indexed topic) over the registry's whole history.
   */
  async findByNonce(author: string, nonce: bigint): Promise<ConfirmedOutcome | undefined> {
    const hit = this.byNonce.get(nonceKey(author, nonce));
    if (hit) return this.byDigest.get(hit) as ConfirmedOutcome | undefined;
    await this.catchUp();
    const caught = this.byNonce.get(nonceKey(author, nonce));
    if (caught) return this.byDigest.get(caught) as ConfirmedOutcome | undefined;
    const latest = await this.chain.rpc.blockNumber();
    const chunks = readLogs(
      this.chain.rpc,
      { address: this.chain.location.address, topics: [MESSAGE_POSTED_TOPIC, null, null, this.chain.authorTopic(author)] },
      { fromBlock: this.chain.deploymentBlock, toBlock: latest, chunkBlocks: this.chunkBlocks },
    );
    for await (const { logs } of chunks) {
      for (const log of logs) {
        const posted = this.decoder.decode(log);
        if (posted.nonce === nonce) {
          const outcome = confirmedFrom(posted);
          this.record(outcome, posted.author, posted.nonce);
          return outcome;
        }
      }
    }
    return undefined;
  }
}

/** The next page's block count: scaled to aim at `target` logs, at most doubling, within [1, max]. */
export function nextPageBlocks(blocks: number, readBlocks: number, logs: number, target: number, max: number): number {
  if (logs === 0) return Math.min(max, blocks * 2);
  const fit = Math.floor((readBlocks * target) / logs);
  return Math.max(1, Math.min(max, blocks * 2, fit));
}

export function nonceKey(author: string, nonce: bigint): string {
  return `${author.toLowerCase()}:${nonce}`;
}
