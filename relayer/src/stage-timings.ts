/**
 * Where a message's time goes between its POST and its outcome, stage by stage, as one
 * Prometheus histogram `chainmail_relayer_stage_seconds{stage}`, so an operator (and
 * the benchmarks) can see what binds throughput without a profiler. The submit path
 * calls the small hooks below; the stages are, in order:
 *
 * - `precheck`     per message: parsing and the pre-checks, until it is queued;
 * - `batch_fill`   per batch: from its first message's arrival until it was full or its
 *                  wait (CHAINMAIL_BATCH_WAIT_MS) ran out;
 * - `queue_wait`   per batch: from then until a lane (signer) had room and took it;
 * - `sign`         per batch: encoding the calldata, sizing its gas, a nonce, fees, signing;
 * - `send`         per batch: eth_sendRawTransaction until the node accepted it;
 * - `receipt_wait` per batch: from accepted until its receipt was read;
 * - `settle`       per batch: turning the receipt's logs into one outcome per message.
 *
 * Batch stages are observed once per batch; `chainmail_relayer_batch_size` says how many
 * messages each stood for.
 */
import { Histogram, type Registry } from "prom-client";

export const STAGES = ["precheck", "batch_fill", "queue_wait", "sign", "send", "receipt_wait", "settle"] as const;
export type Stage = (typeof STAGES)[number];

export function stageHistogram(registry: Registry): Histogram<"stage"> {
  return new Histogram({
    name: "chainmail_relayer_stage_seconds",
    help: "Time spent per stage of the submit path: precheck (per message); batch_fill, queue_wait, sign, send, receipt_wait, settle (per batch)",
    labelNames: ["stage"],
    buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  });
}

/** Milliseconds since `startMs` (performance.now()) into the stage's histogram. */
export function observeStage(histogram: Histogram<"stage">, stage: Stage, startMs: number, endMs = performance.now()): number {
  histogram.observe({ stage }, Math.max(0, endMs - startMs) / 1000);
  return endMs;
}

/**
 * The batch's fill and lane wait, at the moment a lane takes it: the batch was ready
 * when it was full (its last message arrived) or when its first message's wait ran out.
 */
export function observeBatchCut(histogram: Histogram<"stage">, firstArrivedMs: number, lastArrivedMs: number, full: boolean, maxWaitMs: number, nowMs = performance.now()): void {
  const readyAt = Math.min(nowMs, full ? lastArrivedMs : firstArrivedMs + maxWaitMs);
  observeStage(histogram, "batch_fill", firstArrivedMs, Math.max(firstArrivedMs, readyAt));
  observeStage(histogram, "queue_wait", Math.max(firstArrivedMs, readyAt), nowMs);
}

export interface StageSummary {
  count: number;
  /** Mean milliseconds per observation. */
  meanMs: number;
  /** Upper bound of the bucket holding the 50th/99th percentile, in milliseconds. */
  p50Ms: number;
  p99Ms: number;
}

/** Per stage: count, mean and bucketed percentiles, for the benchmarks' JSON. */
export async function stageSummaries(histogram: Histogram<"stage">): Promise<Record<string, StageSummary>> {
  const { values } = await histogram.get();
  const out: Record<string, StageSummary> = {};
  for (const stage of STAGES) {
    const mine = values.filter((v) => v.labels.stage === stage);
    const count = mine.find((v) => v.metricName?.endsWith("_count"))?.value ?? 0;
    const sum = mine.find((v) => v.metricName?.endsWith("_sum"))?.value ?? 0;
    const buckets = mine.filter((v) => v.metricName?.endsWith("_bucket")).map((v) => ({ le: Number((v.labels as Record<string, string | number>).le), n: v.value })).sort((a, b) => a.le - b.le);
    const at = (p: number) => (buckets.find((b) => b.n >= p * count)?.le ?? NaN) * 1000;
    if (count > 0) out[stage] = { count, meanMs: Math.round((sum / count) * 1e6) / 1000, p50Ms: at(0.5), p99Ms: at(0.99) };
  }
  return out;
}
