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
  ChannelRun,
  channelName,
  DEFAULT_MESSAGES_TOPIC,
  digestOf,
  MESSAGE_EVENT_SCHEMA,
  messageEventProblem,
  registryOf,
  signedMessageOf,
  type MessageEvent,
} from "@chainmail/protocol";
import { recoverHex, type RecoverSigner } from "@chainmail/protocol/signatures";
import { position, type AuditedMessage, type Discrepancy, type KafkaReport } from "./types.js";
import { ChainMailError } from "@chainmail/protocol";

export { DEFAULT_MESSAGES_TOPIC };

/** One message event as Kafka holds it, re-verified by its own fields. */
export interface KafkaMessageRecord {
  partition: number;
  offset: string;
  /** The event as published (schema-checked). */
  event: MessageEvent;
  channel: string;
  seq: bigint;
  /** The digest the record claims. */
  digest: string;
  /** The digest recomputed from the record's own fields (EIP-712, with the record's chain id and registry). */
  recomputed: string;
}

export interface KafkaMalformedRecord {
  partition: number;
  offset: string;
  error: string;
  /** Set when the record is well-formed but of another schema: not this topic's kind of record. */
  foreign?: boolean;
}

export type KafkaRecordResult = KafkaMessageRecord | KafkaMalformedRecord;

export interface KafkaEventReader {
  readonly brokers: string[];
  readonly topic: string;
  /** Every record of the topic, in offset order per partition; `records` counts all of them. */
  read(): Promise<{ records: number; events: KafkaRecordResult[] }>;
}

/**
 * Parses one record value of the mirror's topic (`chainmail.message-event.v1`, see
 * @chainmail/protocol's kafka-events.ts): it must be a complete, valid event, and its
 * digest is recomputed from its fields. Anything else (another schema value, no schema,
 * not JSON) is a finding, never skipped: the topic holds message events only.
 */
export function parseMessageEvent(value: Buffer | string | null): Omit<KafkaMessageRecord, "partition" | "offset"> | { error: string; foreign?: boolean } {
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(value === null ? "null" : value.toString());
  } catch {
    return { error: "The value is not JSON." };
  }
  if (json === null || typeof json !== "object" || Array.isArray(json)) return { error: "The value is not a JSON object." };
  if (json.schema !== MESSAGE_EVENT_SCHEMA) {
    return typeof json.schema === "string"
      ? { error: `The record is a ${JSON.stringify(json.schema.slice(0, 80))} value, not a ${MESSAGE_EVENT_SCHEMA} one.`, foreign: true }
      : { error: `The record has no schema field; a ${MESSAGE_EVENT_SCHEMA} value was expected.` };
  }
  const problem = messageEventProblem(json);
  if (problem !== null) return { error: problem };
  const event = json as MessageEvent;
  return {
    event,
    channel: event.channel,
    seq: BigInt(event.seq),
    digest: event.digest,
    recomputed: digestOf(registryOf(event), signedMessageOf(event)),
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
          events.push({ partition, offset: message.offset, ...parseMessageEvent(message.value) });
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

export interface KafkaComparison {
  /** The channels audited (records of other listed channels are not compared). */
  selected: Set<string>;
  /** Every channel the registry lists (proven, when the source proves). */
  listed: Set<string>;
  registry: { chainId: bigint; address: string };
  /** The chain's hash of every block that holds an audited log. */
  blockHashes: Map<number, string>;
  /** Messages from this block on are not yet expected in Kafka. */
  pendingFromBlock: number;
  recover: RecoverSigner;
}

/**
 * Compares Kafka's message events with the chain's, per channel, and re-verifies each
 * copy by itself, as tail does: its digest recomputed from its fields, its signature
 * recovered to its author, its head chained from the previous copy's head; then every
 * field against the chain's event.
 */
export async function compareWithKafka(
  reader: KafkaEventReader,
  messages: AuditedMessage[],
  c: KafkaComparison,
): Promise<{ discrepancies: Discrepancy[]; report: KafkaReport }> {
  const { records, events } = await reader.read();
  const discrepancies: Discrepancy[] = [];
  const chain = new Map<string, AuditedMessage>();
  for (const m of messages) if (!chain.has(key(m.channel, m.seq))) chain.set(key(m.channel, m.seq), m);
  const inKafka = new Set<string>();
  const highest = new Map<string, bigint>();
  const runs = new Map<string, ChannelRun>();
  const chainId = c.registry.chainId.toString();
  const registry = c.registry.address.toLowerCase();
  let messageEvents = 0;
  for (const record of events) {
    const where = `partition ${record.partition}, offset ${record.offset}`;
    if ("error" in record) {
      discrepancies.push({ kind: record.foreign ? "KAFKA_FOREIGN" : "KAFKA_MALFORMED", detail: `Partition ${record.partition}, offset ${record.offset}: ${record.error}` });
      continue;
    }
    const e = record.event;
    const base = { channel: record.channel, channelName: channelName(record.channel), seq: record.seq.toString() };
    if (e.chainId !== chainId || e.registry.toLowerCase() !== registry) {
      discrepancies.push({ kind: "KAFKA_FOREIGN", ...base, detail: `Seq ${e.seq} of ${e.channelName} in Kafka (${where}) names chain ${e.chainId}, registry ${e.registry}; the audit is of chain ${chainId}, registry ${c.registry.address}.` });
      continue;
    }
    if (!c.listed.has(record.channel)) {
      discrepancies.push({ kind: "KAFKA_FOREIGN", ...base, detail: `Kafka (${where}) holds seq ${e.seq} of channel ${e.channelName}, which the registry does not list.` });
      continue;
    }
    if (!c.selected.has(record.channel)) continue; // a listed channel this audit was not asked about
    messageEvents++;
    const k = key(record.channel, record.seq);
    if (inKafka.has(k)) {
      discrepancies.push({ kind: "KAFKA_DUPLICATE", ...base, detail: `Seq ${e.seq} of ${e.channelName} is in Kafka again at ${where}.` });
      continue;
    }
    inKafka.add(k);
    const top = highest.get(record.channel) ?? 0n;
    if (record.seq < top) {
      discrepancies.push({ kind: "KAFKA_ORDER", ...base, detail: `Seq ${e.seq} of ${e.channelName} comes after seq ${top} in Kafka (${where}).` });
    } else highest.set(record.channel, record.seq);
    const m = chain.get(k);
    if (!m) {
      discrepancies.push({ kind: "KAFKA_UNEXPECTED", ...base, detail: `Kafka holds seq ${e.seq} of ${e.channelName} (${where}), which the chain does not have.` });
      continue;
    }
    const at = { ...base, blockNumber: m.blockNumber, transactionHash: m.transactionHash, logIndex: m.logIndex };
    // The copy by itself, by the protocol's rules. A contract wallet's signature is judged
    // on the chain (EIP-1271 at that block); the copy is checked for ECDSA authors.
    let run = runs.get(record.channel);
    if (!run) runs.set(record.channel, (run = new ChannelRun({ joinMidStream: true })));
    const signed = m.signature !== "ecdsa" || recoverHex(c.recover, record.recomputed, e.signature) === e.author.toLowerCase();
    const step = run.step({ seq: record.seq, digest: record.recomputed, claimedDigest: record.digest, head: e.head, signed });
    let altered = false;
    for (const f of step.findings) {
      altered ||= f.kind === "BODY_ALTERED";
      if (f.kind !== "BODY_ALTERED" && f.kind !== "HEAD_MISMATCH" && f.kind !== "BAD_SIGNATURE") continue; // gaps and order: named above as KAFKA_*
      const detail =
        f.kind === "BODY_ALTERED"
          ? f.actual
            ? `its fields hash to ${f.expected}, but the record claims digest ${f.actual}; the copy was altered`
            : `its fields hash to ${f.expected}, which neither its signature nor its head chain vouches for; the copy was altered`
          : f.kind === "HEAD_MISMATCH"
            ? `its head ${e.head} does not follow the previous copy's head (expected ${f.expected})`
            : `its signature does not recover to the author ${e.author}`;
      discrepancies.push({ kind: f.kind, ...at, detail: `Seq ${e.seq} of ${e.channelName} in Kafka (${where}): ${detail}.`, expected: f.kind === "BAD_SIGNATURE" ? e.author : f.expected, actual: f.actual });
      m.problems.push(f.kind);
    }
    // Then every field against the chain's event (the recomputed digest covers the signed fields).
    const differences: string[] = [];
    // (An altered copy, named above, is not named twice for its digest.)
    if (!altered && record.digest !== m.digest.toLowerCase()) differences.push(`digest ${record.digest} instead of ${m.digest}`);
    if (e.author.toLowerCase() !== m.author.toLowerCase()) differences.push(`author ${e.author} instead of ${m.author}`);
    if (e.head !== m.head.toLowerCase()) differences.push(`head ${e.head} instead of ${m.head}`);
    if (e.blockNumber !== m.blockNumber) differences.push(`block ${e.blockNumber} instead of ${m.blockNumber}`);
    const blockHash = c.blockHashes.get(m.blockNumber);
    if (blockHash !== undefined && e.blockHash !== blockHash) differences.push(`block hash ${e.blockHash} instead of ${blockHash}`);
    if (e.transactionHash !== m.transactionHash.toLowerCase()) differences.push(`transaction ${e.transactionHash} instead of ${m.transactionHash}`);
    if (e.logIndex !== m.logIndex) differences.push(`log index ${e.logIndex} instead of ${m.logIndex}`);
    if (differences.length > 0) {
      discrepancies.push({ kind: "KAFKA_MISMATCH", ...at, detail: `Seq ${e.seq} of ${e.channelName} differs in Kafka (${where}): ${differences.join("; ")}.`, expected: m.digest, actual: record.digest });
      m.problems.push("KAFKA_MISMATCH");
    }
  }
  let pending = 0;
  for (const m of messages) {
    if (inKafka.has(key(m.channel, m.seq))) continue;
    if (m.blockNumber >= c.pendingFromBlock) {
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
