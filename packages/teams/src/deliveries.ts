/**
 * The subscription and delivery core that every door (HTTP now, gRPC later, the CLI
 * through HTTP) calls.
 *
 * - Subscriptions live in a compacted Kafka topic, one record per team and channel
 *   (a tombstone removes one), so every relayer instance sees the same list and a
 *   restart loses nothing.
 * - Delivery is read from the broker, never kept here: a message is delivered to a team
 *   when the team's consumer group for the channel has committed an offset past the
 *   message's record. This module only knows where each record sits (it reads the
 *   mirror's topic, read_committed) and asks the broker for the groups' offsets.
 * - "Since when": the broker does not say when an offset was committed, so each time
 *   this module reads a group's offsets it remembers when it first saw each new one; a
 *   message is reported delivered "at or before" the first reading past it.
 */
import { randomUUID } from "node:crypto";
import { Kafka, logLevel, type Admin, type Consumer, type Producer } from "kafkajs";
import {
  channelName,
  DEFAULT_MESSAGES_TOPIC,
  RETRACTION_SCHEMA,
  DEFAULT_SUBSCRIPTIONS_TOPIC,
  teamGroupId,
  teamNameProblem,
  type ChannelDeliveries,
  type ChannelTeamLag,
  type Delivery,
  type MessageDeliveries,
  type Subscription,
} from "@chainmail/protocol";
import { ChainMailError } from "@chainmail/protocol/errors";
import { silentLogger, type Logger } from "@chainmail/runtime";

export interface TeamDeliveriesOptions {
  brokers: string[];
  messagesTopic?: string;
  subscriptionsTopic?: string;
  logger?: Logger;
  clientId?: string;
  /** Only this registry's events count (a topic may carry several registries' channels under the same ids). Default: any. */
  registry?: string;
  /** Longest a query waits for this reader to catch up with the messages topic before answering from what it has. */
  syncTimeoutMs?: number;
  /** Longest start() waits to read the subscriptions topic to its end. */
  startTimeoutMs?: number;
}

/** Where the mirror published one message. */
interface RecordPlace {
  digest: string;
  seq: bigint;
  partition: number;
  offset: bigint;
  appendedAt: Date;
}

export class TeamsError extends ChainMailError {
  override name = "TeamsError";
}

/** A position of a group on a partition and when it was first seen there. */
interface Sighting {
  offset: bigint;
  at: Date;
}

const MAX_SIGHTINGS = 2_000;

export class TeamDeliveries {
  readonly messagesTopic: string;
  readonly subscriptionsTopic: string;
  private readonly kafka: Kafka;
  private readonly logger: Logger;
  private readonly syncTimeoutMs: number;
  private readonly registry: string | undefined;
  private admin!: Admin;
  private producer!: Producer;
  private subscriptionReader!: Consumer;
  private messageReader: Consumer | undefined;
  private closed = false;
  private watcher: Promise<void> | undefined;

  private readonly subscriptionsByKey = new Map<string, Subscription>();
  /** Highest subscriptions-topic offset applied, per partition. */
  private readonly subscriptionsRead = new Map<number, bigint>();
  /** Per channel id: its records in offset order (one partition per channel: the mirror keys by channel). */
  private readonly records = new Map<string, RecordPlace[]>();
  /** Highest messages-topic offset read, per partition (control records included). */
  private readonly messagesRead = new Map<number, bigint>();
  private readonly sightings = new Map<string, Sighting[]>();

  private constructor(private readonly options: TeamDeliveriesOptions) {
    this.messagesTopic = options.messagesTopic ?? DEFAULT_MESSAGES_TOPIC;
    this.subscriptionsTopic = options.subscriptionsTopic ?? DEFAULT_SUBSCRIPTIONS_TOPIC;
    this.logger = options.logger ?? silentLogger;
    this.syncTimeoutMs = options.syncTimeoutMs ?? 3_000;
    this.registry = options.registry?.toLowerCase();
    this.kafka = new Kafka({ clientId: options.clientId ?? "chainmail-teams", brokers: options.brokers, logLevel: logLevel.NOTHING, retry: { retries: 3 } });
  }

  /** Connects, creates the subscriptions topic if needed and reads it to its end; follows the messages topic once the mirror has created it. */
  static async start(options: TeamDeliveriesOptions): Promise<TeamDeliveries> {
    const teams = new TeamDeliveries(options);
    try {
      await teams.open(options.startTimeoutMs ?? 30_000);
    } catch (error) {
      await teams.close();
      throw error;
    }
    return teams;
  }

  private async open(startTimeoutMs: number): Promise<void> {
    this.admin = this.kafka.admin();
    await this.admin.connect();
    if (!(await this.admin.listTopics()).includes(this.subscriptionsTopic)) {
      // Compacted: the latest record per team and channel is the subscription, a tombstone removes it.
      await this.admin
        .createTopics({ topics: [{ topic: this.subscriptionsTopic, numPartitions: 1, configEntries: [{ name: "cleanup.policy", value: "compact" }] }], waitForLeaders: true })
        .catch((error: { type?: string }) => {
          if (error.type !== "TOPIC_ALREADY_EXISTS") throw error; // another relayer made it first
        });
    }
    this.producer = this.kafka.producer({ allowAutoTopicCreation: false, idempotent: true, maxInFlightRequests: 1 });
    await this.producer.connect();

    // Throw-away groups: these readers never commit; they rebuild their view from the topics at each start.
    this.subscriptionReader = this.kafka.consumer({ groupId: `chainmail-teams-subscriptions-${randomUUID()}`, maxWaitTimeInMs: 100, allowAutoTopicCreation: false });
    await this.subscriptionReader.connect();
    await this.subscriptionReader.subscribe({ topic: this.subscriptionsTopic, fromBeginning: true });
    await this.subscriptionReader.run({
      autoCommit: false,
      eachMessage: async ({ partition, message }) => {
        this.applySubscription(message.key?.toString(), message.value?.toString());
        this.subscriptionsRead.set(partition, BigInt(message.offset));
      },
    });
    const ends = await this.admin.fetchTopicOffsets(this.subscriptionsTopic);
    await this.waitUntil(
      () => ends.every((p) => BigInt(p.high) === 0n || (this.subscriptionsRead.get(p.partition) ?? -1n) >= BigInt(p.high) - 1n),
      startTimeoutMs,
      `reading the subscriptions topic ${this.subscriptionsTopic} to its end`,
    );
    this.watcher = this.followMessages();
  }

  /** Waits (polling, not blocking start) until the mirror's topic exists, then reads it from the beginning. */
  private async followMessages(): Promise<void> {
    for (let said = false; !this.closed; said = true) {
      try {
        if ((await this.admin.listTopics()).includes(this.messagesTopic)) break;
      } catch (error) {
        this.logger.warn({ err: error }, "cannot list Kafka topics; trying again");
      }
      if (!said) this.logger.info({ topic: this.messagesTopic }, "the mirror's topic does not exist yet; delivery views are empty until it does");
      await pause(1_000);
    }
    if (this.closed) return;
    const reader = this.kafka.consumer({ groupId: `chainmail-teams-index-${randomUUID()}`, readUncommitted: false, maxWaitTimeInMs: 100, allowAutoTopicCreation: false });
    this.messageReader = reader;
    await reader.connect();
    await reader.subscribe({ topic: this.messagesTopic, fromBeginning: true });
    // Batches of only transaction markers move the position too: the mirror writes in transactions.
    reader.on(reader.events.END_BATCH_PROCESS, ({ payload }) => this.readUpTo(this.messagesRead, payload.partition, BigInt(payload.lastOffset)));
    await reader.run({
      autoCommit: false,
      eachMessage: async ({ partition, message }) => {
        this.indexMessage(partition, BigInt(message.offset), message.key?.toString(), message.value?.toString(), new Date(Number(message.timestamp)));
        this.readUpTo(this.messagesRead, partition, BigInt(message.offset));
      },
    });
  }

  private readUpTo(positions: Map<number, bigint>, partition: number, offset: bigint) {
    if (offset > (positions.get(partition) ?? -1n)) positions.set(partition, offset);
  }

  private indexMessage(partition: number, offset: bigint, key: string | undefined, value: string | undefined, appendedAt: Date) {
    if (!key || !value) return;
    let event: { channel?: unknown; seq?: unknown; digest?: unknown; registry?: unknown };
    try {
      event = JSON.parse(value);
    } catch {
      return; // not a message event; the audit and tail name it, it can never count as delivered here
    }
    const retraction = event as { schema?: unknown; fromSeq?: unknown };
    if (retraction.schema === RETRACTION_SCHEMA && typeof retraction.fromSeq === "string" && /^\d{1,20}$/.test(retraction.fromSeq) && event.channel === key) {
      // A reorganisation took these back: they were never delivered, their replacements follow.
      const fromSeq = BigInt(retraction.fromSeq);
      const list = this.records.get(key);
      if (list) this.records.set(key, list.filter((r) => r.seq < fromSeq));
      return;
    }
    if (typeof event.digest !== "string" || typeof event.seq !== "string" || !/^\d{1,20}$/.test(event.seq) || event.channel !== key) return;
    if (this.registry && (typeof event.registry !== "string" || event.registry.toLowerCase() !== this.registry)) return;
    const list = this.records.get(key) ?? [];
    list.push({ digest: event.digest.toLowerCase(), seq: BigInt(event.seq), partition, offset, appendedAt });
    this.records.set(key, list);
  }

  private applySubscription(key: string | undefined, value: string | undefined) {
    if (!key) return;
    if (!value) {
      this.subscriptionsByKey.delete(key);
      return;
    }
    try {
      const s = JSON.parse(value) as Subscription;
      if (teamNameProblem(s.team) !== null || `${s.team}/${s.channel}` !== key) return;
      this.subscriptionsByKey.set(key, { team: s.team, channel: s.channel, channelName: channelName(s.channel), group: teamGroupId(s.team, s.channel), subscribedAt: s.subscribedAt });
    } catch (error) {
      this.logger.warn({ err: error, key }, "ignoring an unreadable subscription record");
    }
  }

  /** Every subscription, or those of one team and/or channel, ordered by team then channel name. */
  subscriptions(filter: { team?: string; channel?: string } = {}): Subscription[] {
    const channel = filter.channel?.toLowerCase();
    return [...this.subscriptionsByKey.values()]
      .filter((s) => (!filter.team || s.team === filter.team) && (!channel || s.channel === channel))
      .sort((a, b) => a.team.localeCompare(b.team) || a.channelName.localeCompare(b.channelName));
  }

  /** Subscribes `team` to `channel` (a 0x id the caller has checked exists). Idempotent: `created` is false when it already was. */
  async subscribe(team: string, channel: string): Promise<{ subscription: Subscription; created: boolean }> {
    const problem = teamNameProblem(team);
    if (problem) throw new TeamsError("InvalidTeam", problem);
    const id = channel.toLowerCase();
    const key = `${team}/${id}`;
    const existing = this.subscriptionsByKey.get(key);
    if (existing) return { subscription: existing, created: false };
    const subscription: Subscription = { team, channel: id, channelName: channelName(id), group: teamGroupId(team, id), subscribedAt: new Date().toISOString() };
    await this.write(key, JSON.stringify(subscription));
    return { subscription: this.subscriptionsByKey.get(key) ?? subscription, created: true };
  }

  /** Removes one subscription; false when there was none. */
  async unsubscribe(team: string, channel: string): Promise<boolean> {
    const key = `${team}/${channel.toLowerCase()}`;
    if (!this.subscriptionsByKey.has(key)) return false;
    await this.write(key, null);
    return true;
  }

  /** Writes a record and waits until this instance's reader has applied it (read your writes). */
  private async write(key: string, value: string | null): Promise<void> {
    const [meta] = await this.producer.send({ topic: this.subscriptionsTopic, messages: [{ key, value }] });
    const offset = BigInt(meta.baseOffset ?? meta.offset ?? "0");
    await this.waitUntil(() => (this.subscriptionsRead.get(meta.partition) ?? -1n) >= offset, 10_000, "reading back the subscription just written");
  }

  /**
   * Who has the message at `seq` of `channel` (whose digest, from the chain, is
   * `digest`). A Kafka record at that seq with another digest is not the message: it
   * never counts as delivered.
   */
  async deliveriesOf(channel: string, seq: bigint, digest: string): Promise<MessageDeliveries> {
    const id = channel.toLowerCase();
    const wanted = digest.toLowerCase();
    const find = () => this.records.get(id)?.find((r) => r.seq === seq && r.digest === wanted);
    let place = find();
    if (!place) {
      await this.sync();
      place = find();
    }
    const subscriptions = this.subscriptions({ channel: id });
    const deliveries: Delivery[] = [];
    for (const s of subscriptions) {
      const committed = place ? await this.committed(s.group, place.partition) : null;
      const delivered = place !== undefined && committed !== null && committed > place.offset;
      deliveries.push({
        team: s.team,
        group: s.group,
        delivered,
        committedOffset: committed === null ? null : committed.toString(),
        seenDeliveredAt: delivered ? this.firstSeenPast(s.group, place!.partition, place!.offset)!.toISOString() : null,
      });
    }
    return {
      digest: wanted,
      channel: id,
      channelName: channelName(id),
      seq: seq.toString(),
      kafka: place ? { topic: this.messagesTopic, partition: place.partition, offset: place.offset.toString(), appendedAt: place.appendedAt.toISOString() } : null,
      deliveries,
    };
  }

  /** Per subscribed team: the last seq delivered and how many messages of the channel in Kafka it has not committed past. */
  async channelDeliveries(channel: string): Promise<ChannelDeliveries> {
    const id = channel.toLowerCase();
    await this.sync();
    const records = this.records.get(id) ?? [];
    const teams: ChannelTeamLag[] = [];
    for (const s of this.subscriptions({ channel: id })) teams.push(await this.lagOf(s, records));
    return { channel: id, channelName: channelName(id), kafkaSeq: (records.at(-1)?.seq ?? 0n).toString(), teams };
  }

  /** Lag of every subscription, for the metrics (no sync: a scrape must not wait). */
  async lags(): Promise<Array<ChannelTeamLag & { channel: string; channelName: string }>> {
    const all = [];
    for (const s of this.subscriptions()) {
      all.push({ ...(await this.lagOf(s, this.records.get(s.channel) ?? [])), channel: s.channel, channelName: s.channelName });
    }
    return all;
  }

  private async lagOf(s: Subscription, records: RecordPlace[]): Promise<ChannelTeamLag> {
    if (records.length === 0) return { team: s.team, group: s.group, deliveredSeq: "0", lag: 0, committedOffset: null };
    const committed = await this.committed(s.group, records[0].partition);
    // Records are in offset order: the delivered ones are a prefix.
    const delivered = committed === null ? 0 : countBelow(records, committed);
    return {
      team: s.team,
      group: s.group,
      deliveredSeq: (delivered > 0 ? records[delivered - 1].seq : 0n).toString(),
      lag: records.length - delivered,
      committedOffset: committed === null ? null : committed.toString(),
    };
  }

  /** The group's committed offset on the messages topic's partition, straight from the broker (null: none yet). */
  private async committed(group: string, partition: number): Promise<bigint | null> {
    const [topic] = await this.admin.fetchOffsets({ groupId: group, topics: [this.messagesTopic] });
    const entry = topic?.partitions.find((p) => p.partition === partition);
    if (!entry || entry.offset === "-1") return null;
    const offset = BigInt(entry.offset);
    this.sighted(group, partition, offset);
    return offset;
  }

  private sighted(group: string, partition: number, offset: bigint) {
    const key = `${group}/${partition}`;
    const list = this.sightings.get(key) ?? [];
    if (list.length === 0 || list[list.length - 1].offset < offset) list.push({ offset, at: new Date() });
    if (list.length > MAX_SIGHTINGS) list.splice(0, list.length - MAX_SIGHTINGS);
    this.sightings.set(key, list);
  }

  /** The first time a reading of the group's offset was past `offset`. */
  private firstSeenPast(group: string, partition: number, offset: bigint): Date | undefined {
    return this.sightings.get(`${group}/${partition}`)?.find((s) => s.offset > offset)?.at;
  }

  /** Reads the offsets of every subscribed group now, so "seen delivered at" stays close to the commit (the relayer calls this on a timer). */
  async observe(): Promise<void> {
    for (const s of this.subscriptions()) {
      const records = this.records.get(s.channel);
      if (records?.length) await this.committed(s.group, records[0].partition);
    }
  }

  /** Waits, at most syncTimeoutMs, until the reader has reached the messages topic's current end; then answers from what it has. */
  private async sync(): Promise<void> {
    if (!this.messageReader) return;
    let ends;
    try {
      ends = await this.admin.fetchTopicOffsets(this.messagesTopic);
    } catch (error) {
      this.logger.warn({ err: error }, "cannot read the messages topic's end offsets");
      return;
    }
    const caughtUp = () => ends.every((p) => BigInt(p.high) === 0n || (this.messagesRead.get(p.partition) ?? -1n) >= BigInt(p.high) - 1n);
    const deadline = Date.now() + this.syncTimeoutMs;
    while (!caughtUp() && Date.now() < deadline) await pause(50);
  }

  private async waitUntil(done: () => boolean, timeoutMs: number, what: string): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!done()) {
      if (Date.now() > deadline) throw new TeamsError("KafkaTimeout", `Timed out after ${timeoutMs} ms ${what}.`);
      await pause(25);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.allSettled([this.subscriptionReader?.disconnect(), this.messageReader?.disconnect(), this.producer?.disconnect()]);
    await this.watcher?.catch((error) => this.logger.warn({ err: error }, "the messages reader stopped with an error"));
    await this.messageReader?.disconnect().catch(() => undefined); // it may have connected while closing
    await this.admin?.disconnect().catch(() => undefined);
  }
}

/** How many records sit below `offset` (records in offset order). */
function countBelow(records: RecordPlace[], offset: bigint): number {
  let lo = 0;
  let hi = records.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (records[mid].offset < offset) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
