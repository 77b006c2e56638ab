/**
 * A lane: one signer key sending postBatch transactions. It owns the signer's nonces,
 * prices and signs transactions, and follows each one to a receipt: re-sending it when
 * the node dropped it, replacing it (same nonce, higher fee) when it is stuck, and
 * noticing when its nonce was consumed by some other transaction.
 */
import type { JsonRpcProvider, Wallet } from "ethers";
import type { RelayerMetrics } from "../metrics.js";
import type { RawReceipt, RpcClient } from "@chainmail/chain";
import { signRawTransaction } from "./rawtx.js";
import { FeeOracle, type Fees } from "./fees.js";
import { classifySendError, errorText, NonceManager } from "./nonce-manager.js";
import { ChainMailError } from "@chainmail/protocol";
import { silentLogger, type Logger } from "@chainmail/runtime";
import { describeFees, StuckTransactionClearer } from "./stuck-tx.js";

export interface LaneOptions {
  registryAddress: string;
  chainId: bigint;
  replaceAfterMs: number;
  feeBumpPercent: number;
  receiptPollMs: number;
}

/** The transaction's nonce went to another transaction: the batch must be re-examined. */
export class NonceConsumedError extends ChainMailError {
  override name = "NonceConsumedError";
  constructor(nonce: number) {
    super("NonceConsumed", `Nonce ${nonce} was used by another transaction before this batch was mined.`);
  }
}

/** The node refused the transaction (or the relayer stopped first); `kind` says how. */
export class SendError extends ChainMailError {
  override name = "SendError";
  constructor(
    message: string,
    readonly kind: string,
  ) {
    super("SendFailed", message);
  }
}

/** When the (last) signing finished and the node accepted the transaction: performance.now(). */
export interface SubmitTimes {
  signedAt?: number;
  sentAt?: number;
}

interface Attempt {
  hash: string;
  raw: string;
  fees: Fees;
}

export class Lane {
  readonly nonces: NonceManager;
  inFlight = 0;
  private stopped = false;
  /** Nonces of this lane's transactions being followed to a receipt. */
  private readonly own = new Set<number>();
  private poolChecked = false;
  private readonly stuck: StuckTransactionClearer;

  constructor(
    readonly wallet: Wallet,
    private readonly provider: JsonRpcProvider,
    private readonly rpc: RpcClient,
    private readonly fees: FeeOracle,
    private readonly options: LaneOptions,
    private readonly metrics: RelayerMetrics,
    private readonly logger: Logger = silentLogger,
  ) {
    this.nonces = new NonceManager(provider, wallet.address);
    this.stuck = new StuckTransactionClearer(wallet, provider, rpc, fees, options.chainId, logger);
  }

  get address(): string {
    return this.wallet.address;
  }

  stop(): void {
    this.stopped = true;
  }

  /** Sends `data` to the registry and resolves with its receipt (which may have status 0). */
  async submit(data: Uint8Array, gasLimit: bigint, times: SubmitTimes = {}): Promise<RawReceipt> {
    if (!this.poolChecked) {
      this.poolChecked = true;
      await this.clearForeign();
    }
    const { nonce, attempt } = await this.send(data, gasLimit, times);
    this.own.add(nonce);
    try {
      return await this.follow(nonce, data, gasLimit, [attempt]);
    } finally {
      this.own.delete(nonce);
    }
  }

  /** Cancels pooled transactions of this signer that the lane did not send (see stuck-tx.ts). */
  private async clearForeign(): Promise<void> {
    const { cancelled } = await this.stuck.clear(this.own);
    if (cancelled.length > 0) {
      this.metrics.replacements.inc(cancelled.length);
      this.nonces.invalidate();
    }
  }

  private async send(data: Uint8Array, gasLimit: bigint, times: SubmitTimes): Promise<{ nonce: number; attempt: Attempt }> {
    let lastError: unknown;
    for (let tries = 0; tries < 4; tries++) {
      try {
        return await this.nonces.withNonce(async (nonce) => {
          const fees = await this.fees.current();
          const { raw, hash } = this.sign(nonce, data, gasLimit, fees);
          times.signedAt = performance.now();
          try {
            await this.rpc.call("eth_sendRawTransaction", [raw]);
            times.sentAt = performance.now();
          } catch (error) {
            const kind = classifySendError(error);
            // "already known": the very same bytes are in the pool, so it was sent.
            if (kind === "already-known") {
              times.sentAt = performance.now();
              return { used: true, value: { nonce, attempt: { hash, raw, fees } } };
            }
            throw new SendError(errorText(error), kind);
          }
          return { used: true, value: { nonce, attempt: { hash, raw, fees } } };
        });
      } catch (error) {
        lastError = error;
        const kind = error instanceof SendError ? error.kind : "other";
        this.logger.warn({ signer: this.address, kind, error: errorText(error).slice(0, 300) }, "the node refused a batch transaction; re-reading the nonce and sending again");
        // The node knows better than our counter: re-read it and try again.
        this.metrics.nonceResyncs.inc({ cause: kind });
        this.nonces.invalidate();
        // "Underpriced" at a nonce we never used: a foreign transaction holds it.
        if (kind === "underpriced") await this.clearForeign().catch((e) => this.logger.warn({ err: e }, "clearing foreign pooled transactions failed"));
        if (kind === "insufficient-funds" || kind === "out-of-gas") break;
        if (kind === "other" && tries >= 1) break;
      }
    }
    throw lastError instanceof Error ? lastError : new Error(String(lastError));
  }

  private sign(nonce: number, data: Uint8Array, gasLimit: bigint, fees: Fees): { raw: string; hash: string } {
    return signRawTransaction(this.wallet.signingKey, { chainId: this.options.chainId, nonce, gasLimit, to: this.options.registryAddress, data, fees });
  }

  /**
   * Polls until one of the transaction's versions has a receipt. Every
   * `replaceAfterMs` without one: if the nonce was consumed by something else, give up
   * (the caller re-examines the messages); if the node forgot the transaction, send it
   * again; otherwise replace it with a higher fee.
   */
  private async follow(nonce: number, data: Uint8Array, gasLimit: bigint, attempts: Attempt[]): Promise<RawReceipt> {
    let lastAction = Date.now();
    for (;;) {
      for (const attempt of attempts) {
        const receipt = await this.rpc.receipt(attempt.hash);
        if (receipt) return receipt;
      }
      if (this.stopped && Date.now() - lastAction > this.options.replaceAfterMs) {
        throw new SendError("The relayer is shutting down before the transaction was mined.", "shutdown");
      }
      if (Date.now() - lastAction >= this.options.replaceAfterMs) {
        lastAction = Date.now();
        const mined = await this.provider.getTransactionCount(this.address, "latest");
        if (mined > nonce) {
          // One last look: the receipt may have appeared between the two calls.
          for (const attempt of attempts) {
            const receipt = await this.rpc.receipt(attempt.hash);
            if (receipt) return receipt;
          }
          throw new NonceConsumedError(nonce);
        }
        // A lower nonce that is not ours holds the queue: no fee of ours can help; cancel it.
        if (mined < nonce && !this.own.has(mined)) await this.clearForeign();
        const latest = attempts[attempts.length - 1];
        const known = await this.rpc.call("eth_getTransactionByHash", [latest.hash]);
        if (!known) {
          this.metrics.rebroadcasts.inc();
          this.logger.info({ signer: this.address, nonce, transaction: latest.hash }, "the node forgot a pending batch transaction; sending it again");
          // Best effort: a refused rebroadcast ("already known", a full pool) is seen at the next poll.
          await this.rpc.call("eth_sendRawTransaction", [latest.raw]).catch(() => undefined);
        } else {
          const fees = await this.fees.bumped(latest.fees, this.options.feeBumpPercent);
          const { raw, hash } = this.sign(nonce, data, gasLimit, fees);
          try {
            await this.rpc.call("eth_sendRawTransaction", [raw]);
            attempts.push({ hash, raw, fees });
            this.metrics.replacements.inc();
            this.logger.info({ signer: this.address, nonce, transaction: hash, fees: describeFees(fees) }, `batch transaction not mined after ${this.options.replaceAfterMs} ms; replaced it with a higher fee`);
          } catch (error) {
            // Underpriced or already mined: the next round finds out which.
            const kind = classifySendError(error);
            if (kind === "already-known") attempts.push({ hash, raw, fees });
            else this.logger.warn({ signer: this.address, nonce, kind, fees: describeFees(fees), error: errorText(error).slice(0, 300) }, "the node refused the fee-bumped replacement");
          }
        }
      }
      await new Promise((r) => setTimeout(r, this.options.receiptPollMs));
    }
  }
}
