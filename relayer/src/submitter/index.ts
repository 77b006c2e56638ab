/**
 * The submitter: a queue of checked messages cut into batches by size and by time,
 * sent as postBatch transactions over one or more lanes (signer keys), and turned
 * back into one definitive outcome per message from the receipt's logs.
 *
 * A message the relayer could not settle (a failed or reverted transaction, shutdown)
 * is not dropped silently: after a few tries its waiters get a retryable failure and
 * the relayer forgets it. The client still holds the signed message and sends it
 * again; the registry's nonce check makes that retry land at most once.
 */
import {
  decodeMessageRejected,
  MESSAGE_POSTED_TOPIC,
  MESSAGE_REJECTED_TOPIC,
  Reason,
  type SignedMessage,
} from "@chainmail/protocol";
import type { Chain } from "../chain.js";
import type { RelayerConfig } from "../config.js";
import { ErrorCodes } from "../errors.js";
import type { RelayerMetrics } from "../metrics.js";
import { confirmedFrom, nonceKey, rejectedFrom, type OutcomeIndex, type Outcome } from "../outcomes.js";
import { MessagePostedDecoder } from "@chainmail/protocol";
import type { RawReceipt } from "@chainmail/chain";
import { encodePostBatch } from "./calldata.js";
import { FeeOracle } from "./fees.js";
import { GasSizer } from "./gas-sizing.js";
import { silentLogger, type Logger } from "@chainmail/runtime";
import { Lane, NonceConsumedError, SendError, type SubmitTimes } from "./lane.js";
import { observeBatchCut, observeStage } from "../stage-timings.js";

/** The relayer gave up on a message for now; the client should send it again. */
export interface Failure {
  status: "failed";
  digest: string;
  code: string;
  message: string;
}

export type Settlement = Outcome | Failure;

/** Who holds an author's nonce (see Submitter.claimNonce). */
export interface NonceHolder {
  digest: string;
  queued: boolean;
  decided: Promise<void>;
}

export interface PendingMessage {
  digest: string;
  message: SignedMessage;
  acceptedAt: number;
  /** performance.now() when queued: for the stage timings. */
  queuedAt: number;
  tries: number;
  settled: Promise<Settlement>;
  settle(result: Settlement): void;
}

const MAX_TRIES = 3;

/**
 * An upper bound on one message's gas in postBatch: a fresh nonce word (22.1k), cold
 * role and channel reads, ecrecover, hashing, the event's topics and words, and per
 * byte of body and signature 16 (calldata) + 8 (log data) + hashing and copying,
 * rounded up. Measured use is about 25k for a 256-byte body; the bound is about 62k.
 */
export function messageGasBound(message: SignedMessage): number {
  const bodyBytes = (message.body.length - 2) / 2;
  return 45_000 + 48 * (bodyBytes + 65 + 64);
}

export class Submitter {
  readonly lanes: Lane[];
  readonly fees: FeeOracle;
  private readonly queue: PendingMessage[] = [];
  private readonly pending = new Map<string, PendingMessage>();
  private readonly pendingNonces = new Map<string, string>();
  /** Per claimed author+nonce not yet queued: opens when the claim is queued or given back. */
  private readonly claimGates = new Map<string, { promise: Promise<void>; open: () => void }>();
  private timer?: ReturnType<typeof setTimeout>;
  private stopping = false;
  private idleWaiters: Array<() => void> = [];
  private readonly decoder: MessagePostedDecoder;
  /** Gas limits and batch lengths from what the chain charges (see gas-sizing.ts). */
  readonly gas: GasSizer;

  constructor(
    private readonly chain: Chain,
    private readonly index: OutcomeIndex,
    private readonly config: RelayerConfig,
    private readonly metrics: RelayerMetrics,
    private readonly logger: Logger = silentLogger,
  ) {
    this.fees = new FeeOracle(chain.provider, config.gasMode);
    const rpc = chain.rpc;
    this.decoder = new MessagePostedDecoder(chain.location);
    this.gas = new GasSizer(
      {
        blockGasLimit: async () => (await chain.provider.getBlock("latest"))!.gasLimit,
        estimate: (data) => chain.provider.estimateGas({ from: this.lanes[0].address, to: chain.location.address, data: "0x" + Buffer.from(data).toString("hex") }),
      },
      config.maxBatchGas,
    );
    this.lanes = chain.wallets.map(
      (wallet) =>
        new Lane(
          wallet,
          chain.provider,
          rpc,
          this.fees,
          {
            registryAddress: chain.location.address,
            chainId: BigInt(chain.location.chainId),
            replaceAfterMs: config.replaceAfterMs,
            feeBumpPercent: config.feeBumpPercent,
            receiptPollMs: config.receiptPollMs,
          },
          metrics,
          logger,
        ),
    );
  }

  get isStopping(): boolean {
    return this.stopping;
  }

  get queueDepth(): number {
    return this.queue.length;
  }

  /** A message being worked on, by digest. */
  get(digest: string): PendingMessage | undefined {
    return this.pending.get(digest.toLowerCase());
  }

  /** Messages accepted and not yet settled (queued or in a transaction): what the queue bound counts. */
  get pendingCount(): number {
    return this.pending.size;
  }

  /** The digest of the pending message that uses author's nonce, if any. */
  pendingDigestForNonce(author: string, nonce: bigint): string | undefined {
    return this.pendingNonces.get(nonceKey(author, nonce));
  }

  /**
   * Claims author's nonce for `digest` synchronously, before the pre-check's chain reads,
   * so that of several different messages with one nonce arriving together only one
   * goes on. Returns undefined when the claim is ours, else the holder: queued (the
   * nonce is taken), or still being checked, with `decided` resolving once its check
   * queues it or gives the claim back. The claim lasts until `releaseNonce`, or until
   * the message settles.
   */
  claimNonce(author: string, nonce: bigint, digest: string): NonceHolder | undefined {
    const key = nonceKey(author, nonce);
    const holder = this.pendingNonces.get(key);
    if (holder !== undefined && holder !== digest) {
      return { digest: holder, queued: this.pending.has(holder), decided: this.claimGates.get(key)?.promise ?? Promise.resolve() };
    }
    this.pendingNonces.set(key, digest);
    if (!this.pending.has(digest) && !this.claimGates.has(key)) {
      let open!: () => void;
      const promise = new Promise<void>((resolve) => (open = resolve));
      this.claimGates.set(key, { promise, open });
    }
    return undefined;
  }

  /** Gives a claim back (the pre-check refused the message); a queued message keeps its nonce. */
  releaseNonce(author: string, nonce: bigint, digest: string): void {
    const key = nonceKey(author, nonce);
    if (this.pendingNonces.get(key) === digest && !this.pending.has(digest)) {
      this.pendingNonces.delete(key);
      this.openGate(key);
    }
  }

  /** Wakes the messages waiting for a claim's verdict. */
  private openGate(key: string): void {
    const gate = this.claimGates.get(key);
    if (!gate) return;
    this.claimGates.delete(key);
    gate.open();
  }

  /** Queues a checked message (or returns the one already queued with this digest). */
  enqueue(digest: string, message: SignedMessage): PendingMessage {
    const key = digest.toLowerCase();
    const known = this.pending.get(key);
    if (known) return known;
    let settle!: (result: Settlement) => void;
    const settled = new Promise<Settlement>((resolve) => (settle = resolve));
    const entry: PendingMessage = {
      digest: key,
      message,
      acceptedAt: Date.now(),
      queuedAt: performance.now(),
      tries: 0,
      settled,
      settle: (result) => {
        this.pending.delete(key);
        this.releaseNonce(message.author, message.nonce, key);
        settle(result);
      },
    };
    this.pending.set(key, entry);
    this.pendingNonces.set(nonceKey(message.author, message.nonce), key);
    this.openGate(nonceKey(message.author, message.nonce));
    this.queue.push(entry);
    this.metrics.accepted.inc();
    this.metrics.queueDepth.set(this.queue.length);
    this.pump();
    return entry;
  }

  /** Starts batches while there is work and a lane with room. */
  private pump(): void {
    while (this.queue.length > 0) {
      const full = this.queue.length >= this.config.batchMaxSize;
      const age = Date.now() - this.queue[0].acceptedAt;
      if (!full && !this.stopping && age < this.config.batchMaxWaitMs) {
        if (!this.timer) {
          this.timer = setTimeout(() => {
            this.timer = undefined;
            this.pump();
          }, this.config.batchMaxWaitMs - age);
        }
        return;
      }
      const lane = this.freeLane();
      if (!lane) return; // a lane finishing calls pump() again
      const batch = this.queue.splice(0, this.batchLength());
      observeBatchCut(this.metrics.stages, batch[0].queuedAt, batch[batch.length - 1].queuedAt, full, this.config.batchMaxWaitMs);
      this.metrics.queueDepth.set(this.queue.length);
      lane.inFlight++;
      this.metrics.inFlightTransactions.inc();
      void this.sendBatch(lane, batch).finally(() => {
        lane.inFlight--;
        this.metrics.inFlightTransactions.dec();
        this.pump();
        this.notifyIfIdle();
      });
    }
  }

  /** How many queued messages the next batch takes: by count, then by expected gas. */
  private batchLength(): number {
    const n = Math.min(this.queue.length, this.config.batchMaxSize);
    return this.gas.batchLength(this.queue.slice(0, n).map((e) => messageGasBound(e.message)));
  }

  private freeLane(): Lane | undefined {
    let best: Lane | undefined;
    for (const lane of this.lanes) {
      if (lane.inFlight < this.config.maxInFlightPerSigner && (!best || lane.inFlight < best.inFlight)) best = lane;
    }
    return best;
  }

  private async sendBatch(lane: Lane, batch: PendingMessage[]): Promise<void> {
    const times: SubmitTimes = {};
    let startedAt = 0;
    let receipt: RawReceipt;
    let gasLimit = 0n;
    let data: Uint8Array;
    for (const entry of batch) entry.tries++;
    try {
      const bounds = batch.map((e) => messageGasBound(e.message));
      const plan = await this.gas.plan(bounds, (take) => encodePostBatch(batch.slice(0, take).map((e) => e.message)));
      if (plan.take < batch.length) this.putBack(batch.splice(plan.take));
      gasLimit = plan.gasLimit;
      data = encodePostBatch(batch.map((e) => e.message));
      // The "sign" stage starts here: gas planning (an estimate for a new relayer) is not signing.
      startedAt = performance.now();
      receipt = await lane.submit(data, gasLimit, times);
    } catch (error) {
      if (error instanceof NonceConsumedError) {
        // Someone else mined at our nonce (another relayer with this key?): the
        // messages may or may not be on-chain. Re-queue them; the contract's nonce
        // check and settleNonceUsed() sort out which landed.
        this.metrics.transactions.inc({ result: "nonce-consumed" });
        this.logger.warn({ signer: lane.address, messages: batch.length }, "a batch's nonce was used by another transaction; re-queueing its messages");
        this.retry(batch, "The transaction's nonce was used by another transaction.");
        return;
      }
      this.metrics.transactions.inc({ result: "send-failed" });
      this.logger.warn({ signer: lane.address, messages: batch.length, error: shortReason(error) }, "sending a batch failed");
      // The node ran the batch out of gas at the send (an automining node): what the sizer
      // learned is too low for these messages (a fresh nonce word costs 17k more); ask the node again.
      if (error instanceof SendError && error.kind === "out-of-gas") this.gas.outOfGas();
      this.retry(batch, `Sending the batch failed: ${shortReason(error)}`);
      return;
    }
    if (receipt.status !== 1) {
      this.metrics.transactions.inc({ result: "reverted" });
      this.logger.warn({ signer: lane.address, transaction: receipt.transactionHash, gasUsed: String(receipt.gasUsed), gasLimit: String(gasLimit), messages: batch.length }, "a batch transaction reverted");
      // Out of gas means our bound was wrong for this chain: estimate from now on.
      if (receipt.gasUsed >= gasLimit) this.gas.outOfGas();
      this.retry(batch, "The batch transaction reverted (is the registry paused?).");
      return;
    }
    this.metrics.transactions.inc({ result: "mined" });
    this.metrics.batchSize.observe(batch.length);
    this.metrics.gasUsed.inc(Number(receipt.gasUsed));
    this.metrics.gasPerMessage.observe(Number(receipt.gasUsed) / batch.length);
    this.gas.observe(batch.map((e) => messageGasBound(e.message)), receipt.gasUsed);
    const receivedAt = performance.now();
    if (times.signedAt !== undefined && times.sentAt !== undefined) {
      observeStage(this.metrics.stages, "sign", startedAt, times.signedAt);
      observeStage(this.metrics.stages, "send", times.signedAt, times.sentAt);
      observeStage(this.metrics.stages, "receipt_wait", times.sentAt, receivedAt);
    }
    await this.settleFromReceipt(batch, receipt);
    observeStage(this.metrics.stages, "settle", receivedAt);
  }

  /** One outcome per message from the receipt's MessagePosted/MessageRejected logs. */
  private async settleFromReceipt(batch: PendingMessage[], receipt: RawReceipt): Promise<void> {
    const byDigest = new Map(batch.map((e) => [e.digest, e]));
    const byAuthorNonce = new Map(batch.map((e) => [`${e.message.author.toLowerCase()}:${e.message.nonce}`, e]));
    const settled = new Set<PendingMessage>();
    const registry = this.chain.location.address.toLowerCase();
    for (const log of receipt.logs) {
      if (log.address.toLowerCase() !== registry) continue;
      if (log.topics[0] === MESSAGE_POSTED_TOPIC) {
        // Our message, recognised byte for byte: its digest is the one the pre-check
        // computed. Any other log is decoded in full and found by the digest recomputed
        // from it: were two messages with one nonce ever in a batch, the map by nonce
        // keeps only one, and the one that landed must not be sent again.
        const recognised = this.decoder.recognise(log, (author, nonce) => byAuthorNonce.get(`${author}:${nonce}`));
        const posted = recognised?.posted ?? this.decoder.decode(log);
        const entry = recognised?.known ?? byDigest.get(posted.digest.toLowerCase());
        if (!entry || settled.has(entry)) continue;
        const outcome = confirmedFrom(posted);
        this.index.record(outcome, posted.author, posted.nonce);
        this.finish(entry, outcome);
        settled.add(entry);
      } else if (log.topics[0] === MESSAGE_REJECTED_TOPIC) {
        const rejected = decodeMessageRejected(log);
        const entry = byDigest.get(rejected.digest.toLowerCase());
        if (!entry || settled.has(entry)) continue;
        settled.add(entry);
        if (rejected.reason === Reason.NonceUsed) {
          await this.settleNonceUsed(entry, rejectedFrom(rejected));
        } else {
          const outcome = rejectedFrom(rejected);
          this.index.record(outcome);
          this.finish(entry, outcome);
        }
      }
    }
    const missing = batch.filter((e) => !settled.has(e));
    if (missing.length > 0) this.retry(missing, "The batch's receipt had no outcome for this message.");
  }

  /**
   * NonceUsed on-chain for a message that passed our pre-check means a copy of it
   * landed first (a retry after a crash, or another relayer): its first outcome is
   * the posted one. Only if the nonce went to a different message is it a rejection.
   */
  private async settleNonceUsed(entry: PendingMessage, rejection: Outcome): Promise<void> {
    try {
      const first = await this.index.findByNonce(entry.message.author, entry.message.nonce);
      if (first && first.digest.toLowerCase() === entry.digest) {
        this.finish(entry, first, false);
        return;
      }
    } catch {
      // Could not read the logs: report what the receipt says.
    }
    this.index.record(rejection);
    this.finish(entry, rejection);
  }

  private finish(entry: PendingMessage, outcome: Outcome, count = true): void {
    if (count) {
      if (outcome.status === "confirmed") this.metrics.confirmations.inc();
      else this.metrics.rejections.inc({ reason: outcome.code });
    }
    this.metrics.submitLatency.observe((Date.now() - entry.acceptedAt) / 1000);
    entry.settle(outcome);
  }

  /** Messages a batch could not take (gas): back to the front of the queue, no try spent. */
  private putBack(entries: PendingMessage[]): void {
    for (const entry of entries) entry.tries--;
    this.queue.unshift(...entries);
    this.metrics.queueDepth.set(this.queue.length);
  }

  private retry(batch: PendingMessage[], why: string): void {
    const again: PendingMessage[] = [];
    for (const entry of batch) {
      if (entry.tries < MAX_TRIES && !this.stopping) again.push(entry);
      else {
        this.logger.error({ digest: entry.digest, tries: entry.tries, why }, "gave up on a message (SubmitFailed); its client must send it again");
        entry.settle({ status: "failed", digest: entry.digest, code: ErrorCodes.SubmitFailed, message: `${why} The relayer gave up on this message for now; send the same signed message again.` });
      }
    }
    if (again.length > 0) {
      this.queue.unshift(...again);
      this.metrics.queueDepth.set(this.queue.length);
      // A short pause so a failing node is not hammered in a tight loop.
      setTimeout(() => this.pump(), 250).unref();
    }
  }

  private notifyIfIdle(): void {
    if (this.lanes.every((l) => l.inFlight === 0) && (this.queue.length === 0 || !this.lanes.length)) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      waiters.forEach((w) => w());
    }
  }

  /**
   * Graceful shutdown: send what is queued now, wait (bounded) for in-flight
   * transactions, and hand back whatever is left: its waiters get a retryable
   * ShuttingDown answer, so clients send those messages to the next relayer.
   */
  async drain(timeoutMs: number): Promise<{ handedBack: number }> {
    this.stopping = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.pump();
    const idle = new Promise<void>((resolve) => {
      this.idleWaiters.push(resolve);
      this.notifyIfIdle();
    });
    let timeout: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([idle, new Promise((r) => (timeout = setTimeout(r, timeoutMs)))]);
    clearTimeout(timeout);
    for (const lane of this.lanes) lane.stop();
    const left = [...this.pending.values()];
    for (const entry of left) {
      entry.settle({
        status: "failed",
        digest: entry.digest,
        code: ErrorCodes.ShuttingDown,
        message: "The relayer is shutting down before this message was settled; send the same signed message again.",
      });
    }
    this.queue.length = 0;
    this.metrics.queueDepth.set(0);
    return { handedBack: left.length };
  }
}

function shortReason(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.split("\n")[0].slice(0, 300);
}

