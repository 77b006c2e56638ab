/**
 * One look at the chain's final block for all of a relayer's Subscribe streams. Each
 * stream polling the node on its own made the node's load grow with the subscribers
 * (a hundred streams, a hundred looks a poll interval); here a look answers every
 * stream waiting for a block past the one it has read, and nobody looks while no stream
 * waits.
 */
import type { BlockRef, FinalityResolver } from "@chainmail/chain";

interface Waiter {
  seen: number;
  resolve(tip: BlockRef | null): void;
  reject(error: unknown): void;
}

export class FinalHead {
  private last?: { tip: BlockRef | null; at: number };
  private looking = false;
  private timer?: ReturnType<typeof setTimeout>;
  private readonly waiters = new Set<Waiter>();
  /** Looks at the node so far (tests count them). */
  looks = 0;

  constructor(
    private readonly finality: Pick<FinalityResolver, "tip">,
    /** The least time between two looks. */
    private readonly pollMs: number,
  ) {}

  /**
   * The final block once its number is past `seen` (-1: any block); null if `signal`
   * aborts first. A failed look rejects every caller waiting on it.
   */
  after(seen: number, signal: AbortSignal): Promise<BlockRef | null> {
    if (signal.aborted) return Promise.resolve(null);
    if (this.last?.tip && this.last.tip.number > seen) return Promise.resolve(this.last.tip);
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        this.waiters.delete(waiter);
        resolve(null);
      };
      const waiter: Waiter = {
        seen,
        resolve: (tip) => {
          signal.removeEventListener("abort", onAbort);
          resolve(tip);
        },
        reject: (error) => {
          signal.removeEventListener("abort", onAbort);
          reject(error);
        },
      };
      signal.addEventListener("abort", onAbort, { once: true });
      this.waiters.add(waiter);
      this.schedule();
    });
  }

  /** The next look: now if the last one is a poll interval old, else when it will be. */
  private schedule(): void {
    if (this.looking || this.timer || this.waiters.size === 0) return;
    const wait = this.last ? this.last.at + this.pollMs - performance.now() : 0;
    if (wait > 0) this.timer = setTimeout(() => this.look(), wait);
    else void this.look();
  }

  private async look(): Promise<void> {
    this.timer = undefined;
    this.looking = true;
    this.looks++;
    try {
      const tip = await this.finality.tip();
      this.last = { tip, at: performance.now() };
      if (tip) {
        for (const waiter of this.waiters) {
          if (tip.number <= waiter.seen) continue;
          this.waiters.delete(waiter);
          waiter.resolve(tip);
        }
      }
    } catch (error) {
      // The next caller looks again (after a poll interval: the node is not hammered).
      this.last = { tip: this.last?.tip ?? null, at: performance.now() };
      const failed = [...this.waiters];
      this.waiters.clear();
      for (const waiter of failed) waiter.reject(error);
    } finally {
      this.looking = false;
      this.schedule();
    }
  }
}
