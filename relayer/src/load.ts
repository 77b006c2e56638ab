/**
 * Bounded work: the relayer refuses quickly (503 Overloaded with Retry-After) rather
 * than letting work pile up when it cannot keep pace. Three things are bounded, for
 * the HTTP and gRPC doors alike (both go through the core):
 * - the submitter's pending messages (queued or in a transaction): each holds memory
 *   and a waiting client until the chain settles it;
 * - pre-checks in flight: each waits on chain reads, so a stalled node would otherwise
 *   collect every request that arrives while it is paused;
 * - the event loop's delay: past it, every answer is late, so new work is refused
 *   until the loop catches up. Only a sustained delay counts (SUSTAINED_SAMPLES samples
 *   in a row over the bound): one long pause (a GC, the process descheduled on a busy
 *   machine) is over by the time it is seen, and refusing then would only add retries.
 * A pre-check also has a deadline: a node that stops answering costs a client at most
 * that long, then a retryable 503 ChainUnavailable.
 */
import { monitorEventLoopDelay } from "node:perf_hooks";
import { ApiError, ErrorCodes } from "./errors.js";

export interface LoadLimits {
  /** Messages accepted and not yet settled; 0 = no bound. */
  maxPending: number;
  /** Pre-checks waiting on the chain at once; 0 = no bound. */
  maxPrechecks: number;
  /** Event-loop delay (ms) above which new work is refused; 0 = not watched. */
  maxEventLoopDelayMs: number;
  /** Longest a pre-check may wait on the chain before the client gets 503 ChainUnavailable. */
  precheckTimeoutMs: number;
}

export function overloaded(what: string): ApiError {
  return new ApiError(503, ErrorCodes.Overloaded, `The relayer is overloaded (${what}); send the same signed message again in a second, here or to another relayer.`, { "retry-after": "1" });
}

export function chainUnavailable(): ApiError {
  return new ApiError(503, ErrorCodes.ChainUnavailable, "The relayer cannot read the chain right now; send the same signed message again shortly.", { "retry-after": "2" });
}

/** Samples in a row over the bound before the event loop counts as behind. */
export const SUSTAINED_SAMPLES = 3;

export class LoadShedder {
  private inFlight = 0;
  private histogram?: ReturnType<typeof monitorEventLoopDelay>;
  private sampler?: ReturnType<typeof setInterval>;
  /** The largest event-loop delay (ms) seen in the last sampling interval. */
  loopDelayMs = 0;
  /** Samples in a row whose delay was over the bound. */
  private samplesOver = 0;

  constructor(
    readonly limits: LoadLimits,
    private readonly pendingCount: () => number,
    private readonly sampleMs = 250,
  ) {}

  get prechecksInFlight(): number {
    return this.inFlight;
  }

  /** Starts watching the event loop (a no-op when its bound is 0). */
  start(): void {
    if (this.limits.maxEventLoopDelayMs <= 0 || this.sampler) return;
    this.histogram = monitorEventLoopDelay({ resolution: 10 });
    this.histogram.enable();
    let last = performance.now();
    this.sampler = setInterval(() => {
      // The timer's own lateness counts too: a loop blocked for longer than the
      // histogram's resolution shows here first.
      const now = performance.now();
      const late = now - last - this.sampleMs;
      last = now;
      this.loopDelayMs = Math.max(late, this.histogram!.max / 1e6);
      this.histogram!.reset();
      this.samplesOver = this.loopDelayMs > this.limits.maxEventLoopDelayMs ? this.samplesOver + 1 : 0;
    }, this.sampleMs);
    this.sampler.unref();
  }

  stop(): void {
    if (this.sampler) clearInterval(this.sampler);
    this.sampler = undefined;
    this.histogram?.disable();
  }

  /** Whether the event loop has been behind its bound for SUSTAINED_SAMPLES samples in a row. */
  get behind(): boolean {
    return this.limits.maxEventLoopDelayMs > 0 && this.samplesOver >= SUSTAINED_SAMPLES;
  }

  /** Throws 503 Overloaded when the event loop is behind. */
  assertResponsive(): void {
    if (this.behind) throw overloaded(`event loop ${Math.round(this.loopDelayMs)} ms behind`);
  }

  /** Why a new message could not be taken on now, or undefined when it could. */
  private fullness(): string | undefined {
    if (this.behind) return `event loop ${Math.round(this.loopDelayMs)} ms behind`;
    const { maxPending, maxPrechecks } = this.limits;
    if (maxPending > 0 && this.pendingCount() >= maxPending) return `${maxPending} messages waiting for the chain`;
    if (maxPrechecks > 0 && this.inFlight >= maxPrechecks) return `${maxPrechecks} pre-checks waiting for the chain`;
    return undefined;
  }

  /** Whether a new message could be taken on now (a stream waits for room rather than be refused). */
  get hasRoom(): boolean {
    return this.fullness() === undefined;
  }

  /** Throws 503 Overloaded when a new message could not be taken on now. */
  assertRoom(): void {
    const full = this.fullness();
    if (full) throw overloaded(full);
  }

  /**
   * Runs a pre-check within the deadline. If the deadline passes first, the client
   * gets 503 ChainUnavailable and `onLate` receives the check's eventual result, so
   * that whatever it holds (a nonce claim) can be given back.
   */
  async precheck<T>(run: () => Promise<T>, onLate: (value: T) => void): Promise<T> {
    this.inFlight++;
    const work = run().finally(() => this.inFlight--);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const deadline = new Promise<"late">((resolve) => (timer = setTimeout(() => resolve("late"), this.limits.precheckTimeoutMs)));
    try {
      const first = await Promise.race([work, deadline]);
      if (first !== "late") return first as T;
    } finally {
      clearTimeout(timer);
    }
    work.then(onLate, () => undefined);
    throw chainUnavailable();
  }
}
