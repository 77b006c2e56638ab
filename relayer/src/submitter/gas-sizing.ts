/**
 * How much gas a batch asks for, and how many messages a batch may take, from what
 * the chain actually charges rather than from a fixed guess.
 *
 * A message's cost depends on the chain's gas schedule (a fresh storage slot is 22k
 * gas on Osaka and about 111k on geth --dev's future forks) and on its nonce word
 * (fresh or already written). The submitter's per-message bound (messageGasBound) only
 * shapes the estimate: the sizer learns `ratio` = gas used per unit of bound from the
 * node's eth_estimateGas for a new relayer's first batch (so that batch cannot run out
 * of gas) and from every mined batch since, keeping the worst of the recent ones.
 *
 * Whatever is sent stays under three caps: the block's gas limit, the per-transaction
 * cap of EIP-7825 (16,777,216 since Osaka; geth refuses more: "transaction gas limit
 * too high") and CHAINMAIL_MAX_BATCH_GAS.
 */

/** EIP-7825 (Osaka): no transaction may ask for more gas. */
export const TX_GAS_CAP = 16_777_216;
/** The transaction's base cost plus postBatch's own work, outside the per-message part. */
export const BATCH_FIXED_GAS = 60_000;
/** Headroom over the expected use: a batch's mix of fresh and used nonce words varies. */
const MARGIN = 1.3;
const MARGIN_GAS = 30_000;
/** How many mined batches the worst ratio is taken over. */
const WINDOW = 16;
/** Never assume a message costs less than this share of its bound. */
const MIN_RATIO = 0.2;
const BLOCK_LIMIT_MAX_AGE_MS = 60_000;

export interface GasSizerSource {
  /** The latest block's gas limit. */
  blockGasLimit(): Promise<bigint>;
  /** The node's eth_estimateGas for the batch's calldata. */
  estimate(data: Uint8Array): Promise<bigint>;
}

export interface GasPlan {
  /** Messages of the batch that fit (the rest go back to the queue). */
  take: number;
  gasLimit: bigint;
}

export class GasSizer {
  /** Gas used per unit of bound; undefined until measured (then the node estimates). */
  private ratio?: number;
  private readonly recent: number[] = [];
  /** The estimate being asked, if any. */
  private asking?: Promise<GasPlan>;
  private blockLimit = { value: Number.MAX_SAFE_INTEGER, at: 0 };

  constructor(
    private readonly source: GasSizerSource,
    private readonly maxBatchGas: number,
  ) {}

  /** The most gas one batch transaction may ask for, as last known. */
  get cap(): number {
    return Math.min(TX_GAS_CAP, this.blockLimit.value, this.maxBatchGas);
  }

  /** Whether the next batch's gas comes from the node's estimate (nothing measured yet, or the last batch ran out). */
  get estimating(): boolean {
    return this.ratio === undefined;
  }

  async refreshCap(): Promise<void> {
    if (Date.now() - this.blockLimit.at < BLOCK_LIMIT_MAX_AGE_MS) return;
    this.blockLimit = { value: Number(await this.source.blockGasLimit()), at: Date.now() };
  }

  /**
   * How many of the queued messages (their bounds, in queue order) the next batch takes:
   * as many as fit under the cap at the expected cost (the bound itself until measured).
   */
  batchLength(bounds: number[]): number {
    const ratio = this.ratio ?? 1;
    let sum = 0;
    let n = 0;
    for (const bound of bounds) {
      const next = sum + bound;
      if (n > 0 && this.limitOf(next, ratio) > this.cap) break;
      sum = next;
      n++;
    }
    return Math.max(1, n);
  }

  /**
   * The gas limit for a batch of messages with these bounds, and how many of them to
   * send: all, unless the node's estimate shows they do not fit under the cap.
   */
  async plan(bounds: number[], encode: (take: number) => Uint8Array): Promise<GasPlan> {
    await this.refreshCap().catch(() => undefined); // a stale cap is still a cap
    // Batches planned while one is being estimated wait for its lesson rather than each
    // asking: a new relayer's first burst (every lane, every slot) would otherwise make
    // the node run that many full batches twice.
    while (this.ratio === undefined && this.asking) await this.asking.catch(() => undefined);
    const sum = (take: number) => bounds.slice(0, take).reduce((a, b) => a + b, 0);
    if (this.ratio !== undefined) return { take: bounds.length, gasLimit: BigInt(Math.min(this.cap, this.limitOf(sum(bounds.length), this.ratio))) };
    const asking = this.planByEstimate(bounds, encode, sum);
    this.asking = asking;
    try {
      return await asking;
    } finally {
      if (this.asking === asking) this.asking = undefined;
    }
  }

  private async planByEstimate(bounds: number[], encode: (take: number) => Uint8Array, sum: (take: number) => number): Promise<GasPlan> {
    let take = bounds.length;
    for (;;) {
      let estimate: number;
      try {
        estimate = Number(await this.source.estimate(encode(take)));
      } catch (error) {
        // Nodes estimate under the per-transaction cap: a batch that needs more fails to
        // estimate at all ("out of gas", or a revert without data). Try half of it.
        if (take === 1) throw error;
        take = Math.ceil(take / 2);
        continue;
      }
      const ratio = Math.max(MIN_RATIO, (estimate - BATCH_FIXED_GAS) / sum(take));
      const limit = this.limitOf(sum(take), ratio);
      if (limit <= this.cap || take === 1) {
        this.learn(ratio);
        return { take, gasLimit: BigInt(Math.min(this.cap, Math.max(limit, Math.ceil(estimate * 1.1)))) };
      }
      // Too big for one transaction on this chain: keep the share that fits.
      take = Math.max(1, Math.floor((take * (this.cap - BATCH_FIXED_GAS - MARGIN_GAS)) / (limit - BATCH_FIXED_GAS - MARGIN_GAS)));
    }
  }

  /** A mined batch: what it used teaches the ratio. */
  observe(bounds: number[], gasUsed: bigint): void {
    const sum = bounds.reduce((a, b) => a + b, 0);
    if (sum > 0) this.learn(Math.max(MIN_RATIO, (Number(gasUsed) - BATCH_FIXED_GAS) / sum));
  }

  /** A batch ran out of gas: what was learned is wrong for this chain; ask the node again. */
  outOfGas(): void {
    this.ratio = undefined;
    this.recent.length = 0;
  }

  private learn(ratio: number): void {
    this.recent.push(ratio);
    if (this.recent.length > WINDOW) this.recent.shift();
    this.ratio = Math.max(...this.recent);
  }

  private limitOf(boundSum: number, ratio: number): number {
    return Math.ceil(BATCH_FIXED_GAS + boundSum * ratio * MARGIN + MARGIN_GAS);
  }
}
