/**
 * Transactions of a signer that this relayer did not send, sitting in the node's pool
 * between the signer's mined nonce and its pending one: left by an earlier run, another
 * tool using the key, or priced below the base fee so they are never mined. Every
 * transaction of the lane queues behind them, so the relayer would wait forever (and
 * bumping its own fees cannot help). The clearer replaces each of them with a
 * cancellation (a 0-value transfer to itself, 21,000 gas) at its nonce, raising the
 * fee until the node takes the replacement, and logs what it did.
 */
import type { JsonRpcProvider, Wallet } from "ethers";
import type { Logger } from "@chainmail/runtime";
import type { RpcClient } from "@chainmail/chain";
import { FeeOracle, type Fees } from "./fees.js";
import { classifySendError, errorText } from "./nonce-manager.js";
import { signRawTransaction } from "./rawtx.js";

/** Fee doublings tried per nonce before giving up (2^10 times the current fee). */
const MAX_RAISES = 10;

export interface ClearResult {
  /** Nonces whose foreign transaction was replaced by a cancellation. */
  cancelled: number[];
}

export class StuckTransactionClearer {
  constructor(
    private readonly wallet: Wallet,
    private readonly provider: JsonRpcProvider,
    private readonly rpc: RpcClient,
    private readonly fees: FeeOracle,
    private readonly chainId: bigint,
    private readonly logger: Logger,
  ) {}

  /**
   * Cancels every pooled transaction of the signer at a nonce from its mined count up to
   * its pending count that is not in `ours` (the lane's own transactions in flight).
   */
  async clear(ours: ReadonlySet<number>): Promise<ClearResult> {
    const address = this.wallet.address;
    const [mined, pending] = await Promise.all([this.provider.getTransactionCount(address, "latest"), this.provider.getTransactionCount(address, "pending")]);
    const foreign: number[] = [];
    for (let nonce = mined; nonce < pending; nonce++) if (!ours.has(nonce)) foreign.push(nonce);
    if (foreign.length === 0) return { cancelled: [] };
    this.logger.warn(
      { signer: address, nonces: foreign, mined, pending },
      "the pool holds transactions of this signer that the relayer did not send; the relayer's own would wait behind them, so they are being replaced by cancellations",
    );
    const cancelled: number[] = [];
    for (const nonce of foreign) {
      if (await this.cancel(nonce)) cancelled.push(nonce);
    }
    return { cancelled };
  }

  /** Replaces the transaction at `nonce`; false when the nonce was mined meanwhile or no fee got in. */
  private async cancel(nonce: number): Promise<boolean> {
    let fees = await this.fees.bumped(await this.fees.current(), 100);
    for (let raise = 0; raise <= MAX_RAISES; raise++) {
      const { raw, hash } = signRawTransaction(this.wallet.signingKey, { chainId: this.chainId, nonce, gasLimit: 21_000n, to: this.wallet.address, data: new Uint8Array(0), fees });
      try {
        await this.rpc.call("eth_sendRawTransaction", [raw]);
        this.logger.warn({ signer: this.wallet.address, nonce, transaction: hash, fees: describeFees(fees) }, "replaced a foreign pooled transaction with a cancellation");
        return true;
      } catch (error) {
        const kind = classifySendError(error);
        if (kind === "nonce-too-low") return false; // mined meanwhile: nothing blocks any more
        if (kind === "already-known") return true;
        if (kind !== "underpriced") {
          this.logger.error({ signer: this.wallet.address, nonce, error: errorText(error) }, "could not replace a foreign pooled transaction");
          return false;
        }
        this.logger.warn({ signer: this.wallet.address, nonce, fees: describeFees(fees) }, "cancellation underpriced against the pooled transaction; raising the fee");
        fees = await this.fees.bumped(fees, 100);
      }
    }
    this.logger.error({ signer: this.wallet.address, nonce }, `no cancellation fee up to 2^${MAX_RAISES} times the current one replaced the pooled transaction`);
    return false;
  }
}

export function describeFees(fees: Fees): Record<string, string> {
  return fees.type === 2 ? { maxFeePerGas: String(fees.maxFeePerGas), maxPriorityFeePerGas: String(fees.maxPriorityFeePerGas) } : { gasPrice: String(fees.gasPrice) };
}
