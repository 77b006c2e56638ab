/**
 * The audit's Kafka comparison against the real broker (KAFKA_BROKERS, default
 * 127.0.0.1:9092). The topics are written here with kafkajs in the mirror's own format
 * (toMessageEvent, keyed by channel, inside transactions as the mirror does), so the
 * test depends on the mirror's format but not on the mirror running.
 */
import { expect } from "chai";
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import path from "node:path";
import { Kafka, logLevel } from "kafkajs";
import { audit, ChainLogSource, KafkaTopicReader } from "@chainmail/audit";
import { toMessageEvent } from "@chainmail/protocol";
import { decodeMessagePosted, MESSAGE_POSTED_TOPIC, type PostedMessage } from "@chainmail/protocol";
import { buildHistory, type History } from "./audit-fixture.js";
import { CHAINMAIL_CLI, createTopic, REPO_ROOT, startHardhatNode, type RunningNode } from "@chainmail/testkit";

const brokers = (process.env.KAFKA_BROKERS ?? "127.0.0.1:9092").split(",").map((b) => b.trim());
const topicName = (what: string) => `test.audit.${what}.${Date.now().toString(36)}.${randomBytes(3).toString("hex")}`;

describe("audit against Kafka on the real broker", function () {
  let node: RunningNode;
  let history: History;
  let posted: PostedMessage[];
  let kafka: Kafka;

  before(async function () {
    kafka = new Kafka({ clientId: "chainmail-audit-test", brokers, logLevel: logLevel.NOTHING, retry: { retries: 2 } });
    const admin = kafka.admin();
    try {
      await admin.connect();
      await admin.listTopics();
    } catch {
      throw new Error(`No Kafka broker at ${brokers.join(",")}; start one with scripts/kafka/start.sh or set KAFKA_BROKERS.`);
    } finally {
      await admin.disconnect().catch(() => {});
    }
    node = await startHardhatNode();
    history = await buildHistory(node.provider);
    const logs = await node.provider.getLogs({ address: history.location.address, fromBlock: 0, toBlock: "latest" });
    posted = logs.filter((l) => l.topics[0] === MESSAGE_POSTED_TOPIC).map((l) => decodeMessagePosted(history.location, l));
    expect(posted).to.have.length(10);
  });
  after(async function () {
    await node?.stop();
  });

  /** Publishes `events` to a new topic in one transaction, the way the mirror writes. */
  async function publish(events: PostedMessage[]): Promise<string> {
    const topic = topicName("messages");
    await createTopic(kafka, topic, 3);
    const producer = kafka.producer({ transactionalId: `audit-test-${randomBytes(4).toString("hex")}`, idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    const tx = await producer.transaction();
    await tx.send({
      topic,
      messages: events.map((m) => ({
        key: m.channel.toLowerCase(),
        value: JSON.stringify(toMessageEvent({ chainId: history.location.chainId, registry: history.location.address }, m)),
      })),
    });
    await tx.commit();
    await producer.disconnect();
    return topic;
  }

  const source = () => new ChainLogSource(node.provider, history.location.address);
  const kinds = (ds: Array<{ kind: string; channelName?: string; seq?: string }>) => ds.map((d) => `${d.kind}@${d.channelName}#${d.seq}`).sort();

  it("passes when the topic holds exactly the chain's events", async function () {
    const topic = await publish(posted);
    const result = await audit(source(), { kafka: new KafkaTopicReader(brokers, topic) });
    expect(result.report.discrepancies).to.deep.equal([]);
    expect(result.report.kafka).to.include({ topic, records: 10, messageEvents: 10, pending: 0, ok: true });
  });

  it("names an event missing from Kafka and an event doubled in Kafka", async function () {
    const isAt = (m: PostedMessage, name: string, seq: bigint) => m.channel === history.channels[name as keyof History["channels"]] && m.seq === seq;
    const events = posted.filter((m) => !isAt(m, "ops", 2n));
    events.push(posted.find((m) => isAt(m, "general", 3n))!);
    const topic = await publish(events);
    const result = await audit(source(), { kafka: new KafkaTopicReader(brokers, topic) });
    expect(kinds(result.report.discrepancies)).to.deep.equal(["KAFKA_DUPLICATE@general#3", "KAFKA_MISSING@ops#2"]);
    expect(result.messages.find((m) => m.channel === history.channels.ops && m.seq === 2n)!.problems).to.deep.equal(["KAFKA_MISSING"]);
  });

  describe("through the CLI", function () {
    const cli = (args: string[]) =>
      spawnSync(process.execPath, [CHAINMAIL_CLI, "audit", "--rpc-url", node.url, "--registry", history.location.address, "--brokers", brokers.join(","), ...args], {
        encoding: "utf8",
        timeout: 90_000,
      });

    it("exits 0 when Kafka matches, 1 naming the discrepancy when it does not, 2 for a topic that does not exist", async function () {
      const good = cli(["--topic", await publish(posted)]);
      expect(good.status, good.stderr).to.equal(0);
      expect(good.stdout).to.match(/10 message events compared\s+ok/).and.match(/every Kafka copy re-verified and identical/);

      const bad = cli(["--topic", await publish(posted.slice(0, 9)), "--json"]);
      expect(bad.status, bad.stderr).to.equal(1);
      const report = JSON.parse(bad.stdout);
      expect(report.discrepancies.map((d: { kind: string }) => d.kind)).to.deep.equal(["KAFKA_MISSING"]);
      expect(bad.stderr).to.match(/found 1 discrepancies/);

      const absent = cli(["--topic", topicName("absent")]);
      expect(absent.status).to.equal(2);
      expect(absent.stderr).to.match(/Kafka topic "test\.audit\.absent.*" does not exist/);
    });
  });
});
