/**
 * Durable acceptance: what makes a 202 survive the relayer. Every message the pre-checks
 * accept is written to the journal (journal.ts) before it is queued and answered, and
 * is followed until its outcome is final (confirmed or rejected on-chain). At start-up
 * the relayer replays the journal's unsettled messages through the same pre-checks and
 * submitter as a client's; a message the submitter gives up on (chain down, reverts) is
 * tried again later instead of being dropped. A graceful shutdown leaves unsettled
 * messages in the journal for the next start.
 *
 * Replaying is safe because the registry de-duplicates by nonce: a message that landed
 * before the crash is recognised by the pre-check (its nonce is used by this very digest)
 * and settled as confirmed, never sent twice.
 */
import path from "node:path";
import type { Logger } from "@chainmail/runtime";
import type { SignedMessageJson } from "@chainmail/protocol";
import { parseSignedMessage, type PreChecker } from "./checks.js";
import { validateSignedMessage } from "./core.js";
import { ApiError, ErrorCodes } from "./errors.js";
import { Journal, type JournalRecovery } from "./journal.js";
import type { PendingMessage, Submitter } from "./submitter/index.js";

/** First wait before a message the submitter gave up on is tried again; doubles up to the cap. */
const RETRY_FIRST_MS = 2_000;
const RETRY_MAX_MS = 30_000;

/**
 * The journal file of a relayer: one per registry and first signer (the relayer's
 * identity) and per deployment of the registry (the hash of the block it was deployed
 * in): a dev chain restarted from scratch redeploys at the same address, and messages
 * accepted for the old chain must not land on the new one.
 */
export function journalFile(dir: string, registry: string, signer: string, deploymentBlockHash: string): string {
  return path.join(dir, `relayer-${registry.toLowerCase()}-${signer.toLowerCase()}-${deploymentBlockHash.slice(2, 14).toLowerCase()}.journal`);
}

export class DurableIntake {
  private readonly timers = new Set<ReturnType<typeof setTimeout>>();
  private stopped = false;

  constructor(
    readonly journal: Journal,
    private readonly checker: PreChecker,
    private readonly submitter: Submitter,
    private readonly logger: Logger,
  ) {}

  static async open(file: string, checker: PreChecker, submitter: Submitter, logger: Logger): Promise<{ intake: DurableIntake; recovered: JournalRecovery }> {
    const { journal, recovered } = await Journal.open(file);
    return { intake: new DurableIntake(journal, checker, submitter, logger), recovered };
  }

  /** Accepted or being retried here: the status answer is "pending". */
  has(digest: string): boolean {
    return this.journal.has(digest);
  }

  /** Persists a checked message, then queues it. Throws a retryable 503 when the journal cannot be written. */
  async accept(digest: string, json: SignedMessageJson, enqueue: () => PendingMessage): Promise<PendingMessage> {
    try {
      await this.journal.accept(digest, json);
    } catch (error) {
      this.logger.error({ err: error }, "cannot write the journal; refusing messages");
      throw new ApiError(503, ErrorCodes.JournalUnavailable, "The relayer cannot persist messages right now; send the same signed message again shortly, or to another relayer.", { "retry-after": "2" });
    }
    const entry = enqueue();
    this.follow(entry, json, RETRY_FIRST_MS);
    return entry;
  }

  /** Replays the messages the journal held at start: each goes through the pre-checks again. */
  async replay(recovered: JournalRecovery): Promise<void> {
    if (recovered.tornTail || recovered.unreadable > 0) {
      this.logger.warn({ tornTail: recovered.tornTail, unreadable: recovered.unreadable }, "journal: skipped a torn last line and/or unreadable lines");
    }
    if (recovered.unsettled.length === 0) return;
    this.logger.info({ messages: recovered.unsettled.length }, "journal: finishing messages accepted before the restart");
    await Promise.all(recovered.unsettled.map(({ digest, message }) => this.resubmit(digest, message, RETRY_FIRST_MS)));
  }

  /** Cancels pending retries; the journal keeps what is unsettled. */
  async close(): Promise<void> {
    this.stopped = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    await this.journal.close();
  }

  private follow(entry: PendingMessage, json: SignedMessageJson, delayMs: number): void {
    void entry.settled.then((settlement) => {
      if (settlement.status !== "failed") {
        this.journal.settle(entry.digest, settlement.status);
      } else if (settlement.code !== ErrorCodes.ShuttingDown) {
        // The submitter gave up for now; the 202 still stands.
        this.later(entry.digest, json, delayMs);
      }
    });
  }

  private later(digest: string, json: SignedMessageJson, delayMs: number): void {
    if (this.stopped) return;
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      void this.resubmit(digest, json, Math.min(delayMs * 2, RETRY_MAX_MS));
    }, delayMs);
    timer.unref();
    this.timers.add(timer);
  }

  /**
   * One journal message through the checks again: known outcome -> settled; refused ->
   * dropped (a tampered line, or a message that expired or lost its author's membership
   * meanwhile); chain unreadable -> later; else queued and followed.
   */
  private async resubmit(digest: string, json: SignedMessageJson, nextDelayMs: number): Promise<void> {
    if (this.stopped || this.submitter.isStopping) return;
    let result;
    try {
      const message = parseSignedMessage(validateSignedMessage(json));
      result = await this.checker.check(message);
      if (result.digest !== digest) throw new ApiError(422, "JournalMismatch", `The journal line's digest ${digest} is not the message's (${result.digest}): the line was altered.`);
    } catch (error) {
      if (error instanceof ApiError && error.statusCode < 500) {
        this.logger.warn({ digest, code: error.code, reason: error.message }, "journal: refused a journalled message on replay; dropping it");
        this.journal.settle(digest, `refused:${error.code}`);
        return;
      }
      this.logger.warn({ err: error, digest }, "journal: cannot check a journalled message now; trying again later");
      this.later(digest, json, nextDelayMs);
      return;
    }
    if (result.kind === "known") {
      this.journal.settle(digest, result.outcome.status);
      return;
    }
    const entry = result.kind === "pending" ? result.entry : this.submitter.enqueue(result.digest, result.message);
    this.follow(entry, json, nextDelayMs);
  }
}
