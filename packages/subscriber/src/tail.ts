/**
 * `tail`: follow one channel's messages from Kafka (read_committed, one consumer group
 * per team), checking every message's digest, signature and head chain as it arrives.
 *
 *   const handle = await tail({ brokers, channel: "general", groupId: "team-a", rpcUrl,
 *     onMessage: (event, confirmation) => ..., onBreak: (b) => ... });
 *   ...
 *   await handle.stop();
 */
import { randomUUID } from "node:crypto";
import { Kafka, logLevel, type Consumer, type KafkaMessage } from "kafkajs";
import { channelId, teamGroupId, teamNameProblem } from "@chainmail/protocol";
import { DEFAULT_MESSAGES_TOPIC, RETRACTION_SCHEMA, retractionEventProblem, type MessageEvent, type RetractionEvent } from "@chainmail/protocol";
import { ChainChecker, type ChainBreak } from "./chain-check.js";
import { ChainConfirmer, TRUSTING_KAFKA, type Confirmation } from "./confirm.js";

export interface TailOptions {
  brokers: string[];
  /** Default chainmail.messages.v1. */
  topic?: string;
  /** Channel name (up to 31 bytes) or 0x-prefixed 32-byte id. */
  channel: string;
  /** One group per team; each group gets every message once. Default: a fresh group (nothing is remembered). */
  groupId?: string;
  /**
   * A subscribed team's name: reads with the team's group for this channel
   * (teamGroupId: chainmail.team.<team>.<channel>), from the topic's beginning the
   * first time, so that its commits are the team's delivery record. Instead of groupId.
   */
  team?: string;
  /** Start at the topic's beginning (also for a group that already has a position). Default: where the group left off, or new messages only. */
  fromBeginning?: boolean;
  /** Only events of this registry (address); default: any. */
  registry?: string;
  /**
   * A JSON-RPC URL of the chain: each message is then confirmed against it (its
   * transaction receipt holds the same event) before onMessage, which is told the outcome.
   * Without one, every message comes with the status "trusting-kafka".
   */
  rpcUrl?: string;
  onMessage: (event: MessageEvent, confirmation: Confirmation) => void | Promise<void>;
  /**
   * The mirror retracted messages a chain reorganisation took back: every message of the
   * channel from `fromSeq` on that was handed to onMessage is void; the replacing messages
   * follow (with the same seqs, checked from `headBefore`). Default: a note.
   */
  onRetraction?: (retraction: RetractionEvent) => void | Promise<void>;
  /** A check failed. Default: nothing (the CLI stops on the first one unless --keep-going). */
  onBreak?: (problem: ChainBreak) => void | Promise<void>;
  /** Things worth saying that are not breaks: joining mid-stream, a message delivered again. */
  onNote?: (note: string) => void;
  clientId?: string;
  /** Gives up waiting for the topic to appear (tail() then rejects). */
  signal?: AbortSignal;
}

export interface TailHandle {
  groupId: string;
  stop(): Promise<void>;
  /** Resolves when the consumer stops (after stop(), or when it crashes). */
  done: Promise<void>;
}

export async function tail(options: TailOptions): Promise<TailHandle> {
  const channel = channelId(options.channel);
  const topic = options.topic ?? DEFAULT_MESSAGES_TOPIC;
  if (options.team !== undefined && options.groupId !== undefined) throw new TypeError("Give a team or a group id, not both.");
  const teamProblem = options.team !== undefined ? teamNameProblem(options.team) : null;
  if (teamProblem) throw new TypeError(teamProblem);
  const groupId = options.team !== undefined ? teamGroupId(options.team, channel) : (options.groupId ?? `chainmail-tail-${randomUUID()}`);
  const named = options.groupId !== undefined || options.team !== undefined;
  const registry = options.registry?.toLowerCase();
  const kafka = new Kafka({ clientId: options.clientId ?? "chainmail-tail", brokers: options.brokers, logLevel: logLevel.NOTHING });
  await waitForTopic(kafka, topic, options.onNote, options.signal);

  if (options.fromBeginning && named) {
    // A group that already has a position would resume there; move it to the start.
    const admin = kafka.admin();
    await admin.connect();
    try {
      const committed = await admin.fetchOffsets({ groupId, topics: [topic] });
      if (committed.some((t) => t.partitions.some((p) => p.offset !== "-1"))) {
        await admin.resetOffsets({ groupId, topic, earliest: true });
      }
    } finally {
      await admin.disconnect();
    }
  }

  // A reader must never create the mirror's topic (with the broker's defaults).
  const consumer: Consumer = kafka.consumer({ groupId, readUncommitted: false, maxWaitTimeInMs: 250, allowAutoTopicCreation: false });
  const checker = new ChainChecker();
  const confirmer = options.rpcUrl ? new ChainConfirmer(options.rpcUrl, options.registry) : undefined;
  let stopped = false;
  let resolveDone!: () => void;
  const done = new Promise<void>((resolve) => (resolveDone = resolve));
  consumer.on(consumer.events.STOP, () => resolveDone());
  consumer.on(consumer.events.CRASH, () => resolveDone());
  await consumer.connect();
  // A team's group that has never committed starts at the beginning: the whole channel is to be delivered.
  await consumer.subscribe({ topic, fromBeginning: options.fromBeginning || options.team !== undefined });
  // The group's committed offset is the team's delivery record, so it moves only past
  // messages that passed the checks: after a break nothing more is committed (the next
  // reader of the group starts at the broken message again and sees the break itself).
  let committing = true;
  let inFlight: Promise<unknown> = Promise.resolve();
  const commitPast = async (partition: number, offset: string) => {
    if (committing) await consumer.commitOffsets([{ topic, partition, offset: (BigInt(offset) + 1n).toString() }]);
  };
  await consumer.run({
    autoCommit: false,
    // The key is the channel id, so one channel is one partition, in seq order.
    eachMessage: async ({ message, partition }) => {
      // Set before the handler runs: onMessage may call stop(), which waits for this.
      let finished!: () => void;
      inFlight = new Promise<void>((resolve) => (finished = resolve));
      try {
        await handle(message, partition);
      } finally {
        finished();
      }
    },
  });
  async function handle(message: KafkaMessage, partition: number): Promise<void> {
    if (stopped) return;
    // Another channel's record in the same partition: nothing to check, and passing it delivers nothing.
    if (message.key?.toString() !== channel || !message.value) return commitPast(partition, message.offset);
    let value: unknown;
    try {
      value = JSON.parse(message.value.toString());
    } catch {
      value = { channel, unparsable: message.value.toString().slice(0, 200) };
    }
    if (registry && (value as { registry?: string }).registry?.toLowerCase() !== registry) return commitPast(partition, message.offset);
    if ((value as { schema?: unknown }).schema === RETRACTION_SCHEMA && retractionEventProblem(value) === null) {
      const retraction = value as RetractionEvent;
      checker.retract(retraction);
      if (options.onRetraction) await options.onRetraction(retraction);
      else options.onNote?.(`The chain reorganised: messages of ${retraction.channelName} from seq ${retraction.fromSeq} on were retracted; their replacements follow.`);
      return commitPast(partition, message.offset);
    }
    const outcome = checker.check(value);
    if (outcome.status === "broken") {
      if (committing && named) options.onNote?.(`Not committing the group's position past the break or after it: the team has not received seq ${outcome.break.seq ?? "?"} of ${outcome.break.channelName} verified.`);
      committing = false;
      for (const problem of outcome.breaks) await options.onBreak?.(problem);
      return;
    }
    if (outcome.note) options.onNote?.(outcome.note);
    if (outcome.status === "ok") {
      const confirmation = confirmer ? await confirmer.confirm(outcome.event) : TRUSTING_KAFKA;
      if (confirmation.status === "unconfirmed" && committing) {
        // A message the chain does not vouch for is not delivered: the group stays before it.
        if (named) options.onNote?.(`Not committing the group's position past seq ${outcome.event.seq} of ${outcome.event.channelName} or after it: the chain does not confirm it.`);
        committing = false;
      }
      await options.onMessage(outcome.event, confirmation);
    }
    // Committed once the message passed and its handler returned: delivered means verified and handled.
    await commitPast(partition, message.offset);
  }
  return {
    groupId,
    done,
    // May be called from onMessage/onBreak, without awaiting it there (it waits for that
    // handler to finish): later messages are ignored at once.
    stop: async () => {
      stopped = true;
      // A message being handled still gets its commit (stop is often called from its handler).
      await inFlight;
      await consumer.disconnect();
      resolveDone();
    },
  };
}

/**
 * Waits until the mirror has created `topic` and every partition has a leader: a tail
 * started before the mirror's first publication otherwise fails on a missing partition.
 */
async function waitForTopic(kafka: Kafka, topic: string, onNote?: (note: string) => void, signal?: AbortSignal): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    for (let said = false; ; said = true) {
      if ((await admin.listTopics()).includes(topic)) {
        const [metadata] = (await admin.fetchTopicMetadata({ topics: [topic] })).topics;
        if (metadata.partitions.length > 0 && metadata.partitions.every((p) => p.leader >= 0)) return;
      }
      signal?.throwIfAborted();
      if (!said) onNote?.(`Topic ${topic} does not exist yet; waiting for the mirror to publish to it.`);
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  } finally {
    await admin.disconnect();
  }
}
