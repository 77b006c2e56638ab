/**
 * Kafka against the chain: the mirror must have published every on-chain message
 * exactly once, unchanged, in seq order per channel. Each copy is also re-verified by
 * its own fields with the protocol's rules, as tail verifies it: an altered body under
 * the original digest, or a signature by someone else, is named like on the chain. Reading is behind a small
 * interface (tests feed forged records to it); `KafkaTopicReader` reads the real topic
 * from its beginning up to the end offsets it saw when the audit started.
 */
import { randomUUID } from "node:crypto";
import { Kafka, logLevel } from "kafkajs";
import {
  channelName,
  DEFAULT_MESSAGES_TOPIC,
  digestOf,
  MESSAGE_EVENT_SCHEMA,
  messageDiscrepancy,
  messageEventProblem,
  registryOf,
  signedMessageOf,
  type MessageEvent,
} from "@chainmail/protocol";
import { recoverHex, type RecoverSigner } from "./signatures.js";
import { position, type AuditedMessage, type Discrepancy, type KafkaReport } from "./types.js";
import { ChainMailError } from "@chainmail/protocol";

export { DEFAULT_MESSAGES_TOPIC };

/** One message event as Kafka holds it (only the fields the comparison needs). */
export interface KafkaMessageRecord {
  partition: number;
  offset: string;
  channel: string;
  seq: bigint;
  digest: string;
  head?: string;
  blockNumber?: number;
  transactionHash?: string;
  logIndex?: number;
  /** What the record's own fields say, when it carries them (a full message event): the digest recomputed from them, the author and signature. */
  content?: { digest: string; author: string; signature: string };
}

export interface KafkaMalformedRecord {
  partition: number;
  offset: string;
  error: string;
}

export type KafkaRecordResult = KafkaMessageRecord | KafkaMalformedRecord;

export interface KafkaEventReader {
  readonly brokers: string[];
  readonly topic: string;
  /** Every record of the topic, in offset order per partition; `records` counts all of them. */
  read(): Promise<{ records: number; events: KafkaRecordResult[] }>;
}

const HEX32 = /^0x[0-9a-fA-F]{64}$/;

/**
 * Parses one record value of the mirror's topic (`chainmail.message-event.v1`, see
 * @chainmail/protocol's kafka-events.ts): such a value must be a complete, valid event,
 * and its digest is recomputed from its fields. Values without a `schema` field are
 * accepted when they carry {channel, seq, digest}; values of another schema are not
 * message events (null).
 */
export function parseMessageEvent(value: Buffer | string | null): Omit<KafkaMessageRecord, "partition" | "offset"> | { error: string } | null {
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(value === null ? "null" : value.toString());
  } catch {
    return { error: "The value is not JSON." };
  }
  if (json === null || typeof json !== "object" || Array.isArray(json)) return { error: "The value is not a JSON object." };
  if (json.schema !== undefined && json.schema !== MESSAGE_EVENT_SCHEMA) return null;
  let content: KafkaMessageRecord["content"];
  if (json.schema === MESSAGE_EVENT_SCHEMA) {
    const problem = messageEventProblem(json);
    if (problem !== null) return { error: problem };
    const event = json as MessageEvent;
    content = { digest: digestOf(registryOf(event), signedMessageOf(event)), author: event.author, signature: event.signature };
  }
  const { channel, seq, digest, head, blockNumber, transactionHash, logIndex } = json;
  if (typeof channel !== "string" || !HEX32.test(channel)) return { error: "channel is not a 32-byte hex id." };
  if (!(typeof seq === "string" && /^(0|[1-9][0-9]*)$/.test(seq)) && !(typeof seq === "number" && Number.isSafeInteger(seq) && seq >= 0)) {
    return { error: "seq is not a decimal integer." };
  }
  if (typeof digest !== "string" || !HEX32.test(digest)) return { error: "digest is not 32 bytes of hex." };
  return {
    channel: channel.toLowerCase(),
    seq: BigInt(seq),
    digest: digest.toLowerCase(),
    head: typeof head === "string" ? head.toLowerCase() : undefined,
    blockNumber: typeof blockNumber === "number" ? blockNumber : undefined,
    transactionHash: typeof transactionHash === "string" ? transactionHash.toLowerCase() : undefined,
    logIndex: typeof logIndex === "number" ? logIndex : undefined,
    ...(content ? { content } : {}),
  };
}

let negativeTimeoutWarningsMuted = false;

/**
 * kafkajs 2.2.4 schedules a timer with a negative delay on Node >= 23, which prints a
 * TimeoutNegativeWarning on every run (kafkajs issue #1751; Node treats it as 1 ms, so it
 * is harmless). Drop exactly that warning so the auditor's stderr stays readable.
 */
function muteKafkajsTimeoutWarning(): void {
  if (negativeTimeoutWarningsMuted) return;
  negativeTimeoutWarningsMuted = true;
  const emit = process.emitWarning.bind(process) as (...args: unknown[]) => void;
  process.emitWarning = ((warning: unknown, ...rest: unknown[]) => {
    const type = typeof rest[0] === "string" ? rest[0] : (rest[0] as { type?: string } | undefined)?.type;
    if (type === "TimeoutNegativeWarning" || (warning instanceof Error && warning.name === "TimeoutNegativeWarning")) return;
    emit(warning, ...rest);
  }) as typeof process.emitWarning;
}

/** A topic read from a real broker with kafkajs, as a throw-away consumer group. */
export class KafkaTopicReader implements KafkaEventReader {
  constructor(
    readonly brokers: string[],
    readonly topic: string,
    private readonly timeoutMs = 60_000,
  ) {}

  async read(): Promise<{ records: number; events: KafkaRecordResult[] }> {
    muteKafkajsTimeoutWarning();
    const kafka = new Kafka({ clientId: "chainmail-audit", brokers: this.brokers, logLevel: logLevel.NOTHING, retry: { retries: 3 } });
    const admin = kafka.admin();
    await admin.connect();
    let ends: Map<number, bigint>;
    try {
      const topics = await admin.listTopics();
      if (!topics.includes(this.topic)) throw new KafkaTopicMissingError(`Kafka topic "${this.topic}" does not exist on ${this.brokers.join(",")}.`);
      const offsets = await admin.fetchTopicOffsets(this.topic);
      ends = new Map(offsets.filter((o) => BigInt(o.high) > BigInt(o.low)).map((o) => [o.partition, BigInt(o.high)]));
    } finally {
      await admin.disconnect();
    }
    const events: KafkaRecordResult[] = [];
    let records = 0;
    if (ends.size === 0) return { records, events };

    // A fresh group id: never commits over anyone's position, always starts at the beginning.
    const consumer = kafka.consumer({ groupId: `chainmail-audit-${randomUUID()}`, readUncommitted: false });
    const reached = new Map<number, bigint>();
    let finish!: () => void;
    const done = new Promise<void>((resolve) => (finish = resolve));
    const check = () => {
      if ([...ends].every(([p, end]) => (reached.get(p) ?? -1n) >= end - 1n)) finish();
    };
    // END_BATCH_PROCESS also fires for batches that held only transaction markers, whose
    // offsets never reach eachMessage: it is how we see the end of a transactional topic.
    consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
      const last = BigInt(payload.lastOffset);
      if (last > (reached.get(payload.partition) ?? -1n)) reached.set(payload.partition, last);
      check();
    });
    try {
      await consumer.connect();
      await consumer.subscribe({ topic: this.topic, fromBeginning: true });
      await consumer.run({
        autoCommit: false,
        eachMessage: async ({ partition, message }) => {
          const offset = BigInt(message.offset);
          if (offset >= (ends.get(partition) ?? 0n)) return; // published after the audit began
          records++;
          const parsed = parseMessageEvent(message.value);
          if (parsed === null) return;
          if ("error" in parsed) events.push({ partition, offset: message.offset, error: parsed.error });
          else events.push({ partition, offset: message.offset, ...parsed });
        },
      });
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`Kafka topic "${this.topic}" could not be read to its end within ${this.timeoutMs / 1000} s.`)),
          this.timeoutMs,
        );
      });
      try {
        await Promise.race([done, timeout]);
      } finally {
        clearTimeout(timer);
      }
    } finally {
      await consumer.disconnect();
    }
    events.sort((a, b) => a.partition - b.partition || (BigInt(a.offset) < BigInt(b.offset) ? -1 : 1));
    return { records, events };
  }
}

/** The topic to compare with does not exist (the audit never creates it). */
export class KafkaTopicMissingError extends ChainMailError {
  override name = "KafkaTopicMissingError";
  constructor(message: string) {
    super("KafkaTopicMissing", message);
  }
}

/**
 * Compares Kafka's message events with the chain's, per channel, and re-verifies each
 * copy's own content (digest from its fields, signature recovered with `recover`).
 */
export async function compareWithKafka(
  reader: KafkaEventReader,
  messages: AuditedMessage[],
  channels: Set<string>,
  pendingFromBlock: number,
  recover: RecoverSigner,
): Promise<{ discrepancies: Discrepancy[]; report: KafkaReport }> {
  const { records, events } = await reader.read();
  const discrepancies: Discrepancy[] = [];
  const chain = new Map<string, AuditedMessage>();
  for (const m of messages) if (!chain.has(key(m.channel, m.seq))) chain.set(key(m.channel, m.seq), m);
  const inKafka = new Set<string>();
  const highest = new Map<string, bigint>();
  let messageEvents = 0;
  for (const e of events) {
    if ("error" in e) {
      discrepancies.push({ kind: "KAFKA_MALFORMED", detail: `Partition ${e.partition}, offset ${e.offset}: ${e.error}` });
      continue;
    }
    if (!channels.has(e.channel)) continue; // a channel this audit was not asked about
    messageEvents++;
    const where = `partition ${e.partition}, offset ${e.offset}`;
    const base = { channel: e.channel, channelName: channelName(e.channel), seq: e.seq.toString() };
    const k = key(e.channel, e.seq);
    if (inKafka.has(k)) {
      discrepancies.push({ kind: "KAFKA_DUPLICATE", ...base, detail: `Seq ${e.seq} of ${channelName(e.channel)} is in Kafka again at ${where}.` });
      continue;
    }
    inKafka.add(k);
    const top = highest.get(e.channel) ?? 0n;
    if (e.seq < top) {
      discrepancies.push({ kind: "KAFKA_ORDER", ...base, detail: `Seq ${e.seq} of ${channelName(e.channel)} comes after seq ${top} in Kafka (${where}).` });
    } else highest.set(e.channel, e.seq);
    const m = chain.get(k);
    if (!m) {
      discrepancies.push({ kind: "KAFKA_UNEXPECTED", ...base, detail: `Kafka holds seq ${e.seq} of ${channelName(e.channel)} (${where}), which the chain does not have.` });
      continue;
    }
    if (e.content) {
      // A contract wallet's signature is judged on the chain (EIP-1271 at that block); the copy is checked for ECDSA authors.
      const signed = m.signature !== "ecdsa" || recoverHex(recover, e.content.digest, e.content.signature) === e.content.author.toLowerCase();
      const verdict = messageDiscrepancy({ digestMatches: e.content.digest === e.digest, linked: undefined, signed });
      if (verdict) {
        const detail =
          verdict === "BODY_ALTERED"
            ? `its fields hash to ${e.content.digest}, but the record claims digest ${e.digest}; the copy was altered`
            : `its signature does not recover to the author ${e.content.author}`;
        discrepancies.push({
          kind: verdict,
          ...base,
          blockNumber: m.blockNumber,
          transactionHash: m.transactionHash,
          logIndex: m.logIndex,
          detail: `Seq ${e.seq} of ${channelName(e.channel)} in Kafka (${where}): ${detail}.`,
          expected: verdict === "BODY_ALTERED" ? e.content.digest : e.content.author,
          actual: verdict === "BODY_ALTERED" ? e.digest : undefined,
        });
        m.problems.push(verdict);
      }
    }
    const differences: string[] = [];
    if (e.digest !== m.digest.toLowerCase()) differences.push(`digest ${e.digest} instead of ${m.digest}`);
    if (e.head !== undefined && e.head !== m.head.toLowerCase()) differences.push(`head ${e.head} instead of ${m.head}`);
    if (e.blockNumber !== undefined && e.blockNumber !== m.blockNumber) differences.push(`block ${e.blockNumber} instead of ${m.blockNumber}`);
    if (e.transactionHash !== undefined && e.transactionHash !== m.transactionHash.toLowerCase()) differences.push(`transaction ${e.transactionHash} instead of ${m.transactionHash}`);
    if (e.logIndex !== undefined && e.logIndex !== m.logIndex) differences.push(`log index ${e.logIndex} instead of ${m.logIndex}`);
    if (differences.length > 0) {
      discrepancies.push({
        kind: "KAFKA_MISMATCH",
        ...base,
        blockNumber: m.blockNumber,
        transactionHash: m.transactionHash,
        logIndex: m.logIndex,
        detail: `Seq ${e.seq} of ${channelName(e.channel)} differs in Kafka (${where}): ${differences.join("; ")}.`,
        expected: m.digest,
        actual: e.digest,
      });
      m.problems.push("KAFKA_MISMATCH");
    }
  }
  let pending = 0;
  for (const m of messages) {
    if (inKafka.has(key(m.channel, m.seq))) continue;
    if (m.blockNumber >= pendingFromBlock) {
      pending++;
      continue;
    }
    discrepancies.push({
      kind: "KAFKA_MISSING",
      ...position(m),
      detail: `Seq ${m.seq} of ${channelName(m.channel)} (block ${m.blockNumber}) is on the chain but not in Kafka.`,
    });
    m.problems.push("KAFKA_MISSING");
  }
  return {
    discrepancies,
    report: { brokers: reader.brokers, topic: reader.topic, records, messageEvents, pending, ok: discrepancies.length === 0 },
  };
}

function key(channel: string, seq: bigint): string {
  return `${channel.toLowerCase()}/${seq}`;
}
