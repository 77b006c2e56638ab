/**
 * The Kafka side of the mirror: topics, the committed cursor, and the transactional
 * producer that writes a block range's events and the cursor as one Kafka transaction
 * (the "consume-transform-produce" pattern, with the chain as the source).
 */
import { randomUUID } from "node:crypto";
import { Partitioners, type Admin, type Kafka, type KafkaMessage, type Message, type Producer } from "kafkajs";
import { ChainMailError, CURSOR_SCHEMA, type MirrorCursor } from "@chainmail/protocol";
import type { Logger } from "@chainmail/runtime";

/** Another instance with our transactional id started: this one must stop publishing. */
export class FencedError extends ChainMailError {
  override name = "FencedError";

  constructor(transactionalId: string, cause: unknown) {
    super(
      "MirrorFenced",
      `fenced: another mirror instance with transactional id "${transactionalId}" took over; this instance stops and publishes nothing more`,
      { cause },
    );
  }
}

const FENCED_TYPES = new Set(["INVALID_PRODUCER_EPOCH", "PRODUCER_FENCED", "INVALID_PRODUCER_ID_MAPPING"]);
const FENCED_CODES = new Set([47, 90]);

/** Whether `error` (or anything it wraps) says a newer producer owns our transactional id. */
export function isFencedError(error: unknown, seen = new Set<unknown>()): boolean {
  if (!error || typeof error !== "object" || seen.has(error)) return false;
  seen.add(error);
  const e = error as { type?: string; code?: number; originalError?: unknown; cause?: unknown; errors?: unknown[] };
  if ((e.type && FENCED_TYPES.has(e.type)) || (typeof e.code === "number" && FENCED_CODES.has(e.code))) return true;
  return (
    isFencedError(e.originalError, seen) ||
    isFencedError(e.cause, seen) ||
    (Array.isArray(e.errors) && e.errors.some((inner) => isFencedError(inner, seen)))
  );
}

export interface TopicNames {
  messages: string;
  membership: string;
  cursor: string;
}

/** Creates the topics that do not exist yet: events with `partitions`, the cursor compacted. */
export async function ensureTopics(admin: Admin, topics: TopicNames, partitions: number): Promise<string[]> {
  const existing = new Set(await admin.listTopics());
  const wanted = [
    { topic: topics.messages, numPartitions: partitions },
    { topic: topics.membership, numPartitions: partitions },
    // Compacted: only the newest cursor per key matters, and it must never expire.
    { topic: topics.cursor, numPartitions: 1, configEntries: [{ name: "cleanup.policy", value: "compact" }] },
  ].filter((t) => !existing.has(t.topic));
  if (wanted.length > 0) {
    try {
      await admin.createTopics({ topics: wanted, waitForLeaders: true });
    } catch (error) {
      // Another instance may have created them in between; anything else is real.
      if ((error as { type?: string }).type !== "TOPIC_ALREADY_EXISTS") throw error;
    }
  }
  return wanted.map((t) => t.topic);
}

/**
 * Reads every committed record of `topic` up to where it ends now, then stops. The
 * admin client lists offsets in READ_COMMITTED mode, which gives each partition's last
 * stable offset (LSO); a read_committed consumer then delivers every committed record
 * below it (aborted ones and transaction markers are skipped). Returns the record count.
 */
export async function readToEnd(
  kafka: Kafka,
  topic: string,
  onMessage: (message: KafkaMessage, partition: number) => void,
  { timeoutMs = 60_000, logger }: { timeoutMs?: number; logger?: Logger } = {},
): Promise<number> {
  const admin = kafka.admin();
  await admin.connect();
  let targets: Map<number, bigint>;
  try {
    const offsets = await admin.fetchTopicOffsets(topic);
    targets = new Map(offsets.filter((o) => BigInt(o.high) > BigInt(o.low)).map((o) => [o.partition, BigInt(o.high)]));
  } finally {
    await admin.disconnect();
  }
  if (targets.size === 0) return 0;

  // A throw-away group: nothing is committed, the reader only wants to see the topic once.
  const consumer = kafka.consumer({ groupId: `chainmail-reader-${randomUUID()}`, readUncommitted: false, maxWaitTimeInMs: 200 });
  const done = new Set<number>();
  let count = 0;
  try {
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`Timed out after ${timeoutMs} ms reading topic ${topic} to its end.`)), timeoutMs);
      const reached = (partition: number, lastOffset: string) => {
        const target = targets.get(partition);
        if (target !== undefined && BigInt(lastOffset) >= target - 1n) done.add(partition);
        if (done.size === targets.size) {
          clearTimeout(timer);
          resolve();
        }
      };
      // Fired for batches with messages and for batches of only control records
      // (transaction markers), which is what often sits just below the LSO.
      consumer.on(consumer.events.END_BATCH_PROCESS, (event) => reached(event.payload.partition, event.payload.lastOffset));
      consumer
        .run({
          autoCommit: false,
          eachBatch: async ({ batch }) => {
            const target = targets.get(batch.partition);
            for (const message of batch.messages) {
              // Records past the LSO we started from belong to a later read.
              if (target !== undefined && BigInt(message.offset) >= target) continue;
              count++;
              onMessage(message, batch.partition);
            }
          },
        })
        .catch(reject);
    });
  } finally {
    await consumer.disconnect().catch((error) => logger?.warn({ error: String(error) }, "could not disconnect a topic reader"));
  }
  return count;
}

export interface ReadRecord {
  key: string | null;
  value: any;
  partition: number;
  offset: string;
  headers: Record<string, string>;
}

/** Every committed record of `topic` up to where it ends now (read_committed), parsed as JSON: what tests and checks compare. */
export async function readTopic(kafka: Kafka, topic: string): Promise<ReadRecord[]> {
  const records: ReadRecord[] = [];
  await readToEnd(kafka, topic, (m: KafkaMessage, partition: number) => {
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(m.headers ?? {})) if (v !== undefined) headers[k] = v.toString();
    records.push({
      key: m.key?.toString() ?? null,
      value: m.value ? JSON.parse(m.value.toString()) : null,
      partition,
      offset: m.offset,
      headers,
    });
  });
  return records;
}

/**
 * The newest committed cursor for `key`, or null. Call this only after the
 * transactional producer connected: that aborts or completes whatever an earlier
 * instance with our transactional id left open, so the topic's LSO is past it.
 */
export async function readCursor(kafka: Kafka, topic: string, key: string, logger: Logger): Promise<MirrorCursor | null> {
  let latest: MirrorCursor | null = null;
  await readToEnd(
    kafka,
    topic,
    (message) => {
      if (message.key?.toString() !== key) return;
      latest = message.value ? (JSON.parse(message.value.toString()) as MirrorCursor) : null;
    },
    { logger },
  );
  return latest;
}

export interface Batch {
  /** Records per topic, in chain order. */
  records: Map<string, Message[]>;
  cursor: MirrorCursor;
}

/** Kafka rejects record batches over ~1 MB (message.max.bytes); a request stays below that even if all of it goes to one partition. */
const MAX_REQUEST_BYTES = 900 * 1024;

export class TransactionalSink {
  private producer: Producer | null = null;

  constructor(
    private readonly kafka: Kafka,
    readonly transactionalId: string,
    private readonly cursorTopic: string,
    readonly cursorKey: string,
    private readonly logger: Logger,
  ) {}

  /**
   * Starts a producer session. InitProducerId bumps the epoch of our transactional id:
   * an older instance is fenced and its open transaction aborted (or finished).
   */
  async connect(): Promise<void> {
    await this.close();
    const producer = this.kafka.producer({
      transactionalId: this.transactionalId,
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
      // Java-compatible murmur2 on the key (the channel id): one channel, one partition.
      createPartitioner: Partitioners.DefaultPartitioner,
      // Our own loop retries with backoff; kafkajs should give up early and tell us.
      retry: { retries: 3, initialRetryTime: 200, maxRetryTime: 2_000 },
    });
    try {
      await producer.connect();
      // kafkajs runs InitProducerId for the transactional id lazily, at the first
      // transaction(). Do it now, so that connect() itself fences any older instance
      // and aborts its open transaction BEFORE we read the cursor. Aborting a
      // transaction with nothing in it stays local (no EndTxn is sent).
      const probe = await producer.transaction();
      await probe.abort();
    } catch (error) {
      // The connect error is what matters and is thrown; a failed disconnect after it is only noted.
      const noted = (e: unknown) => this.logger.debug({ err: e }, "producer disconnect failed");
      if (isFencedError(error)) {
        await producer.disconnect().catch(noted);
        throw new FencedError(this.transactionalId, error);
      }
      await producer.disconnect().catch(noted);
      throw error;
    }
    this.producer = producer;
  }

  async close(): Promise<void> {
    const producer = this.producer;
    this.producer = null;
    if (producer) await producer.disconnect().catch((error) => this.logger.debug({ error: String(error) }, "producer disconnect failed"));
  }

  /** Writes the batch and its cursor in one transaction; all of it is visible, or none. */
  async publish(batch: Batch): Promise<void> {
    if (!this.producer) throw new Error("The Kafka producer is not connected.");
    const cursorMessage: Message = {
      key: this.cursorKey,
      value: JSON.stringify(batch.cursor),
      headers: { schema: CURSOR_SCHEMA },
    };
    const transaction = await this.producer.transaction();
    try {
      for (const request of chunkRequests(batch.records)) {
        await transaction.sendBatch({ topicMessages: request, acks: -1 });
      }
      await transaction.send({ topic: this.cursorTopic, messages: [cursorMessage], acks: -1 });
      await transaction.commit();
    } catch (error) {
      if (isFencedError(error)) throw new FencedError(this.transactionalId, error);
      // Best effort: if this fails too, the next connect() aborts the transaction.
      await transaction.abort().catch((e: unknown) => this.logger.debug({ err: e }, "transaction abort failed; the next connect aborts it"));
      throw error;
    }
  }
}

function* chunkRequests(records: Map<string, Message[]>): Generator<Array<{ topic: string; messages: Message[] }>> {
  let request: Array<{ topic: string; messages: Message[] }> = [];
  let bytes = 0;
  for (const [topic, messages] of records) {
    let current: Message[] = [];
    for (const message of messages) {
      const size = (message.value as string).length + 100;
      if (bytes + size > MAX_REQUEST_BYTES && bytes > 0) {
        if (current.length) request.push({ topic, messages: current });
        yield request;
        request = [];
        current = [];
        bytes = 0;
      }
      current.push(message);
      bytes += size;
    }
    if (current.length) request.push({ topic, messages: current });
  }
  if (request.length) yield request;
}
