/**
 * Gas pricing for the two kinds of chain the relayer meets: EIP-1559 chains (base fee
 * plus tip) and private chains where gas is free (gas price 0, legacy transactions).
 * "auto" decides from the chain itself at first use.
 */
import type { JsonRpcProvider } from "ethers";
import type { GasMode } from "../config.js";
import { checkZeroGas, type ZeroGasVerdict } from "./zero-gas.js";

export type Fees =
  | { type: 2; maxFeePerGas: bigint; maxPriorityFeePerGas: bigint }
  | { type: 0; gasPrice: bigint };

const ONE_GWEI = 1_000_000_000n;

export class FeeOracle {
  private resolvedMode?: Exclude<GasMode, "auto">;
  private cached?: { fees: Fees; at: number };
  private zeroGas?: { verdict: Promise<ZeroGasVerdict>; at: number };

  constructor(
    private readonly provider: JsonRpcProvider,
    private readonly mode: GasMode,
    private readonly maxAgeMs = 1000,
  ) {}

  async resolveMode(): Promise<Exclude<GasMode, "auto">> {
    if (this.resolvedMode) return this.resolvedMode;
    if (this.mode !== "auto") return (this.resolvedMode = this.mode);
    const [block, gasPrice] = await Promise.all([this.provider.getBlock("latest"), this.provider.send("eth_gasPrice", [])]);
    if (BigInt(gasPrice) === 0n && (block?.baseFeePerGas ?? 0n) === 0n) this.resolvedMode = "zero";
    else this.resolvedMode = block?.baseFeePerGas != null ? "eip1559" : "legacy";
    return this.resolvedMode;
  }

  /** Whether transactions cost anything (readiness checks the signers' balances only then). */
  async gasCostsMoney(): Promise<boolean> {
    return (await this.resolveMode()) !== "zero";
  }

  /** In zero mode, whether the node will mine zero-price transactions (re-asked every 30 s); undefined in other modes. */
  async zeroGasVerdict(): Promise<ZeroGasVerdict | undefined> {
    if ((await this.resolveMode()) !== "zero") return undefined;
    if (!this.zeroGas || Date.now() - this.zeroGas.at > 30_000) {
      const verdict = checkZeroGas(this.provider);
      this.zeroGas = { verdict, at: Date.now() };
      verdict.catch(() => (this.zeroGas = undefined));
    }
    return this.zeroGas.verdict;
  }

  async current(): Promise<Fees> {
    if (this.cached && Date.now() - this.cached.at < this.maxAgeMs) return this.cached.fees;
    const fees = await this.fetch();
    this.cached = { fees, at: Date.now() };
    return fees;
  }

  private async fetch(): Promise<Fees> {
    const mode = await this.resolveMode();
    if (mode === "zero") return { type: 0, gasPrice: 0n };
    if (mode === "legacy") return { type: 0, gasPrice: BigInt(await this.provider.send("eth_gasPrice", [])) };
    const block = await this.provider.getBlock("latest");
    let tip = ONE_GWEI;
    try {
      tip = BigInt(await this.provider.send("eth_maxPriorityFeePerGas", []));
    } catch {
      // Not every node has it; a 1 gwei tip is the common default.
    }
    const baseFee = block?.baseFeePerGas ?? 0n;
    // Twice the base fee survives six full blocks of base-fee growth before the
    // transaction stops being includable.
    return { type: 2, maxFeePerGas: baseFee * 2n + tip, maxPriorityFeePerGas: tip };
  }

  /** The fees for a replacement: at least `percent` more than `previous` (nodes want >= 10%). */
  async bumped(previous: Fees, percent: number): Promise<Fees> {
    const now = await this.fetch();
    const bump = (v: bigint) => (v * BigInt(100 + percent)) / 100n + 1n;
    if (previous.type === 0 && now.type === 0) {
      if (previous.gasPrice === 0n && now.gasPrice === 0n) return now; // free gas: nothing to bump
      const price = bump(previous.gasPrice);
      return { type: 0, gasPrice: price > now.gasPrice ? price : now.gasPrice };
    }
    if (previous.type === 2 && now.type === 2) {
      const maxFee = bump(previous.maxFeePerGas);
      const tip = bump(previous.maxPriorityFeePerGas);
      return {
        type: 2,
        maxFeePerGas: maxFee > now.maxFeePerGas ? maxFee : now.maxFeePerGas,
        maxPriorityFeePerGas: tip > now.maxPriorityFeePerGas ? tip : now.maxPriorityFeePerGas,
      };
    }
    return now;
  }
}
