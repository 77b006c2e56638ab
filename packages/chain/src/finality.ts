/**
 * Which block counts as safe to act on. Nodes differ: post-merge clients know the
 * `finalized` and `safe` tags, Hardhat's node and older clients do not, so "auto"
 * tries finalized, then safe, then latest minus a depth, and remembers what worked.
 */
import type { BlockRef, JsonRpcCaller, RpcClient } from "./client.js";
import { detectClient } from "./client-kind.js";

export const FINALITIES = ["auto", "finalized", "safe", "latest"] as const;
export type Finality = (typeof FINALITIES)[number];

export class FinalityResolver {
  private resolved: Exclude<Finality, "auto"> | null;
  private clientChecked = false;
  private why = "";

  constructor(
    /** With `call`, "auto" also asks which client answers (see client-kind.ts). */
    private readonly rpc: Pick<RpcClient, "block"> & Partial<JsonRpcCaller>,
    finality: Finality,
    /** Depth below the head when the node has no finalized/safe block (or finality = latest). */
    private readonly confirmations: number,
  ) {
    this.resolved = finality === "auto" ? null : finality;
  }

  /** What is in use, for logs: "finalized", "safe", "latest - N", or "auto" before the first answer. */
  get inUse(): string {
    return (this.resolved === "latest" ? `latest - ${this.confirmations}` : (this.resolved ?? "auto")) + this.why;
  }

  /**
   * The newest block that is safe to act on, asking the node only for what the rule
   * needs: once finalized or safe is settled, one request (no latest block first), for
   * a caller that polls and has no latest block of its own.
   */
  async tip(): Promise<BlockRef | null> {
    if (this.resolved === "finalized" || this.resolved === "safe") return this.rpc.block(this.resolved);
    const latest = await this.rpc.block("latest");
    return latest ? this.safeTip(latest) : null;
  }

  /** The newest block that is safe to act on, given the node's latest block; null if none yet. */
  async safeTip(latest: BlockRef): Promise<BlockRef | null> {
    if (!this.resolved && !this.clientChecked && this.rpc.call) {
      this.clientChecked = true;
      // geth --dev: finalized trails in 32-block steps and a dev chain never reorgs.
      const client = await detectClient(this.rpc as JsonRpcCaller).catch(() => undefined);
      if (client?.dev) {
        this.resolved = "latest";
        this.why = " (geth --dev: its finalized block trails in 32-block steps and a dev chain never reorganises)";
      }
    }
    const candidates: Array<Exclude<Finality, "auto">> = this.resolved ? [this.resolved] : ["finalized", "safe", "latest"];
    for (const mode of candidates) {
      if (mode === "latest") {
        this.resolved = "latest";
        const number = latest.number - this.confirmations;
        return number < 0 ? null : number === latest.number ? latest : this.rpc.block(number);
      }
      try {
        const block = await this.rpc.block(mode);
        if (block) {
          this.resolved = mode;
          return block;
        }
        if (this.resolved) return null; // known to work, just nothing finalized yet
      } catch (error) {
        if (this.resolved) throw error;
        // The node does not know the tag: try the next one.
      }
    }
    return null;
  }
}
