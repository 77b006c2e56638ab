/**
 * The per-message work that needs no context: decode the log, recompute its digest
 * (protocol's MessagePostedDecoder) and recover the signer. It is independent for every
 * log, so it runs on all cores (worker threads); everything that needs order (seq,
 * heads, membership) stays in the verifier.
 */
import os from "node:os";
import { Worker } from "node:worker_threads";
import { headLinks, MessagePostedDecoder, type RegistryLocation } from "@chainmail/protocol";
import type { RawLog } from "./log-source.js";
import { recoveryBackend, type RecoveryBackendName, type RecoverSigner } from "@chainmail/protocol/signatures";

export interface PreparedMessage {
  ok: true;
  channel: string;
  seq: bigint;
  author: string;
  digest: string;
  head: string;
  blockNumber: number;
  transactionHash: string;
  logIndex: number;
  recovered: string | null;
  /** Kept only when the signature did not recover to the author (EIP-1271 needs it). */
  signature?: string;
  /** The head link checked against the predecessor's logged head `from`, when it was in the batch. */
  link?: { from: string; ok: boolean };
}

export interface PreparedFailure {
  ok: false;
  error: string;
  channel?: string;
  blockNumber: number;
  transactionHash: string;
  logIndex: number;
}

export type Prepared = PreparedMessage | PreparedFailure;

export interface PrepareTimings {
  /** Wall time spent decoding and recovering (includes time the thread was not scheduled). */
  decodeMs: number;
  recoverMs: number;
  /** CPU time the preparing thread really got for the batch. */
  cpuMs: number;
}

/** CPU time of the calling thread in ms (worker threads have their own). */
function threadCpuMs(): number {
  const usage = (process as unknown as { threadCpuUsage?: () => NodeJS.CpuUsage }).threadCpuUsage?.() ?? process.cpuUsage();
  return (usage.user + usage.system) / 1000;
}

export interface PreparedBatch {
  items: Prepared[];
  timings: PrepareTimings;
}

/**
 * Decodes and recovers one batch; pure, used in-process and inside workers. Where a
 * message's predecessor (same channel, seq - 1) is earlier in the batch, its head link is
 * checked here too, so the ordered walk in the verifier rarely has to hash.
 */
export function prepareBatch(decoder: MessagePostedDecoder, recover: RecoverSigner, logs: readonly RawLog[]): PreparedBatch {
  const items: Prepared[] = [];
  const last = new Map<string, { seq: bigint; head: string }>();
  const cpuStart = threadCpuMs();
  let decodeMs = 0;
  let recoverMs = 0;
  for (const log of logs) {
    const t0 = performance.now();
    let m;
    try {
      m = decoder.lean(log);
    } catch (error) {
      decodeMs += performance.now() - t0;
      items.push({
        ok: false,
        error: error instanceof Error ? error.message : String(error),
        channel: typeof log.topics[1] === "string" ? log.topics[1].toLowerCase() : undefined,
        blockNumber: Number(log.blockNumber),
        transactionHash: log.transactionHash,
        logIndex: log.index,
      });
      continue;
    }
    let link: PreparedMessage["link"];
    const previous = last.get(m.channel);
    if (previous && previous.seq + 1n === m.seq) {
      link = { from: previous.head, ok: headLinks(previous.head, m.digest, m.seq, m.head) };
    }
    last.set(m.channel, { seq: m.seq, head: m.head });
    const t1 = performance.now();
    const recovered = recover(m.digestBytes, m.signatureBytes);
    recoverMs += performance.now() - t1;
    decodeMs += t1 - t0;
    items.push({
      ok: true,
      channel: m.channel,
      seq: m.seq,
      author: m.author,
      digest: m.digest,
      head: m.head,
      blockNumber: Number(log.blockNumber),
      transactionHash: log.transactionHash,
      logIndex: log.index,
      recovered,
      link,
      ...(recovered === m.author ? {} : { signature: "0x" + Buffer.from(m.signatureBytes).toString("hex") }),
    });
  }
  return { items, timings: { decodeMs, recoverMs, cpuMs: threadCpuMs() - cpuStart } };
}

export interface Preparer {
  readonly description: string;
  prepare(logs: readonly RawLog[]): Promise<PreparedBatch>;
  close(): Promise<void>;
}

export class InProcessPreparer implements Preparer {
  private readonly decoder: MessagePostedDecoder;
  private readonly recover: RecoverSigner;
  readonly description: string;

  constructor(registry: RegistryLocation, backend: RecoveryBackendName) {
    this.decoder = new MessagePostedDecoder(registry);
    this.recover = recoveryBackend(backend);
    this.description = `${backend}, in-process`;
  }

  async prepare(logs: readonly RawLog[]): Promise<PreparedBatch> {
    return prepareBatch(this.decoder, this.recover, logs);
  }

  async close(): Promise<void> {}
}

/*
 * Batches cross the thread boundary as one string each way. Structured clone of
 * thousands of small objects cost the main thread ~15 µs per log (a fifth of the whole
 * audit's CPU); one string is a memcpy, and the splitting happens in the worker.
 * Fields are hex, decimal or plain sentences, so a newline never occurs inside one.
 */
const SEP = "\n";

export function packLogs(logs: readonly RawLog[]): string {
  const parts = new Array<string>(logs.length);
  for (let i = 0; i < logs.length; i++) {
    const l = logs[i];
    const topics = l.topics.map(field);
    parts[i] = `${topics.length}${SEP}${topics.join(SEP)}${SEP}${field(l.data)}${SEP}${Number(l.blockNumber)}${SEP}${field(l.blockHash)}${SEP}${field(l.transactionHash)}${SEP}${Number(l.index)}${SEP}${field(l.address)}`;
  }
  return parts.join(SEP);
}

/** A field that would break the framing (only a hostile source sends one) becomes non-hex, so the log decodes as malformed. */
function field(value: string): string {
  return typeof value === "string" && !value.includes(SEP) ? value : "not-hex";
}

export function unpackLogs(packed: string): RawLog[] {
  if (packed === "") return [];
  const f = packed.split(SEP);
  const logs: RawLog[] = [];
  let i = 0;
  while (i < f.length) {
    const n = Number(f[i++]);
    const topics = f.slice(i, i + n);
    i += n;
    logs.push({ topics, data: f[i], blockNumber: Number(f[i + 1]), blockHash: f[i + 2], transactionHash: f[i + 3], index: Number(f[i + 4]), address: f[i + 5] });
    i += 6;
  }
  return logs;
}

export function packBatch(batch: PreparedBatch): string {
  const parts: string[] = [String(batch.timings.decodeMs), String(batch.timings.recoverMs), String(batch.timings.cpuMs)];
  for (const m of batch.items) {
    if (m.ok) {
      parts.push("M", m.channel, m.seq.toString(), m.author, m.digest, m.head, String(m.blockNumber), m.transactionHash, String(m.logIndex),
        m.recovered ?? "", m.link ? m.link.from : "", m.link?.ok ? "1" : "0", m.signature ?? "");
    } else {
      parts.push("E", m.error.replace(/\s+/g, " "), m.channel ?? "", String(m.blockNumber), m.transactionHash, String(m.logIndex));
    }
  }
  return parts.join(SEP);
}

export function unpackBatch(packed: string): PreparedBatch {
  const f = packed.split(SEP);
  const timings = { decodeMs: Number(f[0]), recoverMs: Number(f[1]), cpuMs: Number(f[2]) };
  const items: Prepared[] = [];
  let i = 3;
  while (i < f.length) {
    if (f[i] === "M") {
      items.push({
        ok: true,
        channel: f[i + 1],
        seq: BigInt(f[i + 2]),
        author: f[i + 3],
        digest: f[i + 4],
        head: f[i + 5],
        blockNumber: Number(f[i + 6]),
        transactionHash: f[i + 7],
        logIndex: Number(f[i + 8]),
        recovered: f[i + 9] === "" ? null : f[i + 9],
        link: f[i + 10] === "" ? undefined : { from: f[i + 10], ok: f[i + 11] === "1" },
        ...(f[i + 12] === "" ? {} : { signature: f[i + 12] }),
      });
      i += 13;
    } else {
      items.push({
        ok: false,
        error: f[i + 1],
        channel: f[i + 2] === "" ? undefined : f[i + 2],
        blockNumber: Number(f[i + 3]),
        transactionHash: f[i + 4],
        logIndex: Number(f[i + 5]),
      });
      i += 6;
    }
  }
  return { items, timings };
}

interface Job {
  logs: readonly RawLog[];
  resolve(batch: PreparedBatch): void;
  reject(error: Error): void;
}

/** A pool of worker threads, each with its own decoder and recovery backend. */
export class WorkerPreparer implements Preparer {
  private readonly idle: Worker[] = [];
  private readonly queue: Job[] = [];
  private readonly busy = new Map<Worker, Job>();
  readonly description: string;

  private constructor(workers: Worker[], backend: RecoveryBackendName) {
    this.idle.push(...workers);
    this.description = `${backend}, ${workers.length} worker threads`;
    for (const worker of workers) {
      worker.on("message", (packed: string) => this.finish(worker, null, unpackBatch(packed)));
      worker.on("error", (error) => this.finish(worker, error, null));
    }
  }

  static async start(registry: RegistryLocation, backend: RecoveryBackendName, count = os.availableParallelism()): Promise<WorkerPreparer> {
    const workers = await Promise.all(
      Array.from({ length: Math.max(1, count) }, async () => {
        const worker = new Worker(new URL("./prepare-worker-main.js", import.meta.url), {
          workerData: { registry: { chainId: BigInt(registry.chainId), address: registry.address }, backend },
        });
        // The worker says "ready" once it has loaded the protocol module and its backend.
        await new Promise<void>((resolve, reject) => {
          worker.once("message", (m) => (m === "ready" ? resolve() : reject(new Error(String(m)))));
          worker.once("error", reject);
        });
        return worker;
      }),
    );
    return new WorkerPreparer(workers, backend);
  }

  prepare(logs: readonly RawLog[]): Promise<PreparedBatch> {
    return new Promise((resolve, reject) => {
      this.queue.push({ logs, resolve, reject });
      this.dispatch();
    });
  }

  private dispatch(): void {
    while (this.idle.length > 0 && this.queue.length > 0) {
      const worker = this.idle.pop()!;
      const job = this.queue.shift()!;
      this.busy.set(worker, job);
      worker.postMessage(packLogs(job.logs));
    }
  }

  private finish(worker: Worker, error: Error | null, batch: PreparedBatch | null): void {
    const job = this.busy.get(worker);
    this.busy.delete(worker);
    if (job) {
      if (error) job.reject(error);
      else job.resolve(batch!);
    }
    if (!error) this.idle.push(worker);
    this.dispatch();
  }

  async close(): Promise<void> {
    const all = [...this.idle, ...this.busy.keys()];
    this.idle.length = 0;
    await Promise.all(all.map((w) => w.terminate()));
  }
}

/**
 * The preparer an audit uses: a worker pool across all cores when there is enough work
 * for it to pay off, else in-process.
 */
export async function createPreparer(
  registry: RegistryLocation,
  backend: RecoveryBackendName,
  workers: number,
): Promise<Preparer> {
  if (workers <= 0) return new InProcessPreparer(registry, backend);
  try {
    return await WorkerPreparer.start(registry, backend, workers);
  } catch (error) {
    // Workers load TypeScript through tsx (a dev dependency); without it, stay correct on one thread.
    const fallback = new InProcessPreparer(registry, backend);
    (fallback as { description: string }).description += ` (worker threads unavailable: ${String((error as Error)?.message ?? error).split("\n")[0].slice(0, 80)})`;
    return fallback;
  }
}
