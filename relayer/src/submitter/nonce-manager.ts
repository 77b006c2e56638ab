/**
 * One signer's transaction nonces. The relayer keeps the next nonce in memory (no
 * round trip per transaction) and re-reads it from the node whenever the node says it
 * is wrong: nonce too low (another process used it, or we restarted), nonce too high
 * (a gap after a dropped transaction), or a failed send. Sends are serialised per
 * signer, so a re-read is always consistent with what this process has sent.
 */
import type { JsonRpcProvider } from "ethers";

export class NonceManager {
  private nextNonce?: number;
  private tail: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly provider: JsonRpcProvider,
    readonly address: string,
  ) {}

  /** Runs `fn` with the next nonce, one caller at a time; `fn` returns whether the nonce was used. */
  async withNonce<T>(fn: (nonce: number) => Promise<{ used: boolean; value: T }>): Promise<T> {
    const run = this.tail.then(async () => {
      if (this.nextNonce === undefined) await this.resync();
      const nonce = this.nextNonce!;
      const { used, value } = await fn(nonce);
      if (used) this.nextNonce = nonce + 1;
      return value;
    });
    // The caller gets the error through `run`; the queue only needs to go on after it.
    this.tail = run.catch(() => undefined);
    return run;
  }

  /** Forgets the local count: the next send asks the node (pending block). */
  async resync(): Promise<void> {
    this.nextNonce = await this.provider.getTransactionCount(this.address, "pending");
  }

  invalidate(): void {
    this.nextNonce = undefined;
  }

  /** The nonce the next transaction will get, if known (for tests and metrics). */
  peek(): number | undefined {
    return this.nextNonce;
  }
}

export type SendErrorKind = "nonce-too-low" | "nonce-too-high" | "already-known" | "underpriced" | "insufficient-funds" | "out-of-gas" | "other";

/** Sorts a node's refusal of eth_sendRawTransaction; geth, Besu and Hardhat word them differently. */
export function classifySendError(error: unknown): SendErrorKind {
  const text = errorText(error).toLowerCase();
  if (text.includes("nonce too low") || text.includes("nonce is too low") || text.includes("nonce has already been used")) return "nonce-too-low";
  if (text.includes("nonce too high") || text.includes("nonce is too high") || text.includes("nonce gap")) return "nonce-too-high";
  if (text.includes("already known") || text.includes("known transaction") || text.includes("already imported")) return "already-known";
  if (text.includes("underpriced") || text.includes("fee too low") || text.includes("replacement")) return "underpriced";
  if (text.includes("insufficient funds") || text.includes("sender doesn't have enough funds")) return "insufficient-funds";
  // Hardhat's automining node mines the transaction (its nonce is spent) and answers the
  // send with the revert: resending the same gas limit can only fail again.
  if (text.includes("ran out of gas")) return "out-of-gas";
  return "other";
}

export function errorText(error: unknown): string {
  if (!error || typeof error !== "object") return String(error);
  const e = error as { message?: string; shortMessage?: string; info?: unknown; error?: { message?: string } };
  return [e.shortMessage, e.message, e.error?.message, JSON.stringify(e.info ?? "")].filter(Boolean).join(" | ");
}
