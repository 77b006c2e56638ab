/**
 * The mirror against a real hardhat node and the real broker (KAFKA_BROKERS):
 * every field of a published event, backfill of a registry with history, the
 * committed JSON Schemas, and the cursor.
 */
import { expect } from "chai";
import { Value } from "@sinclair/typebox/value";
import { Kafka } from "kafkajs";
import {
  Mirror,
  readCursor,
} from "@chainmail/mirror";
import { silentLogger } from "@chainmail/runtime";
import { readTopic, splitByBlocks } from "@chainmail/mirror";
import { channelId, digestOf, GENESIS_HEAD, MembershipEventSchema, MESSAGE_POSTED_TOPIC, MessageEventSchema, memberRoleOf, nextHead } from "@chainmail/protocol";
import { startHardhatNode, waitFor, type RunningNode } from "@chainmail/testkit";
import { brokerReachable, kafkaBrokers, registryFixture, testKafka, uniqueTopics } from "@chainmail/testkit";

describe("mirror: events in Kafka", function () {
  let node: RunningNode;
  let kafka: Kafka;
  const mirrors: Mirror[] = [];
  const runs: Promise<unknown>[] = [];

  before(async function () {
    if (!(await brokerReachable())) throw new Error(`No Kafka broker at ${kafkaBrokers().join(",")}; start one with scripts/kafka/start.sh or set KAFKA_BROKERS.`);
    kafka = testKafka();
    node = await startHardhatNode();
  });
  afterEach(async function () {
    mirrors.splice(0).forEach((m) => m.stop());
    await Promise.allSettled(runs.splice(0));
  });
  after(async function () {
    await node?.stop();
  });

  function startMirror(registry: string, topics: ReturnType<typeof uniqueTopics>) {
    const mirror = new Mirror({
      rpcUrl: node.url,
      registry,
      brokers: kafkaBrokers(),
      topics,
      pollIntervalMs: 100,
      logger: silentLogger,
      partitions: 3,
      metricsPort: 0,
    });
    mirrors.push(mirror);
    const run = mirror.run();
    runs.push(run);
    return { mirror, run };
  }

  async function waitForCursor(topics: ReturnType<typeof uniqueTopics>, key: string, pastBlock: number) {
    return waitFor(`the mirror's cursor past block ${pastBlock}`, async () => {
      const cursor = await readCursor(kafka, topics.cursor, key, silentLogger);
      return cursor && cursor.nextBlock > pastBlock ? cursor : null;
    }, { timeoutMs: 60_000, intervalMs: 300 });
  }

  it("publishes a posted message with every field right, keyed by channel", async function () {
    const fx = await registryFixture(node.provider, ["general"]);
    const topics = uniqueTopics("fields");
    const { signed, receipt } = await fx.post("general", ["hello, mirror", "second message"]);
    const { mirror } = startMirror(fx.address, topics);
    await waitForCursor(topics, `${fx.chainId}:${fx.address.toLowerCase()}`, receipt.blockNumber);

    const records = await readTopic(kafka, topics.messages);
    expect(records).to.have.length(2);
    const channel = channelId("general");
    const info = await fx.registry.channelInfo(channel);
    const logs = receipt.logs.filter((l) => l.topics[0] === MESSAGE_POSTED_TOPIC);
    let head = GENESIS_HEAD;
    records.forEach((record, i) => {
      const m = signed[i];
      const digest = digestOf(fx.location, m);
      head = nextHead(head, digest, BigInt(i + 1));
      expect(record.key).to.equal(channel);
      expect(record.headers.schema).to.equal("chainmail.message-event.v1");
      expect(record.value).to.deep.equal({
        schema: "chainmail.message-event.v1",
        chainId: fx.chainId.toString(),
        registry: fx.address,
        blockNumber: receipt.blockNumber,
        blockHash: receipt.blockHash.toLowerCase(),
        transactionHash: receipt.hash.toLowerCase(),
        logIndex: logs[i].index,
        channel,
        channelName: "general",
        seq: String(i + 1),
        author: fx.members[0].address,
        digest,
        head,
        timestamp: m.timestamp.toString(),
        contentType: 1,
        contentTypeName: "text/plain",
        body: m.body,
        signature: m.signature.toLowerCase(),
        nonce: m.nonce.toString(),
        replyTo: "0",
      });
      expect(Value.Check(MessageEventSchema, record.value), JSON.stringify([...Value.Errors(MessageEventSchema, record.value)])).to.equal(true);
    });
    expect(records[1].value.head).to.equal(info.head.toLowerCase());
    // One channel, one partition: order holds.
    expect(new Set(records.map((r) => r.partition)).size).to.equal(1);

    // Metrics: what was published, and no lag once caught up.
    const metrics = await waitFor("metrics after the commit", async () => {
      const text = await (await fetch(mirror.metricsUrl!)).text();
      return /chainmail_mirror_lag_blocks 0\b/.test(text) ? text : null;
    });
    expect(metrics).to.contain(`chainmail_mirror_events_published_total{topic="${topics.messages}"} 2`);
    expect(metrics).to.contain(`chainmail_mirror_events_published_total{topic="${topics.membership}"} 4`);
    expect(metrics).to.match(/chainmail_mirror_lag_seconds \d/);
    expect(metrics).to.match(/chainmail_mirror_retries_total/);
  });

  it("backfills a registry with history from its deployment block: messages and membership, in order", async function () {
    const fx = await registryFixture(node.provider, ["alpha", "beta"], 3);
    // History before the mirror ever runs: two channels, several batches, a revoke, a close/reopen.
    const posted: Record<string, number> = { alpha: 0, beta: 0 };
    for (let round = 0; round < 3; round++) {
      for (const name of ["alpha", "beta"]) {
        const texts = Array.from({ length: 4 }, (_, i) => `${name} round ${round} #${i}`);
        await fx.post(name, texts, fx.members[round % 2]);
        posted[name] += texts.length;
      }
    }
    const alpha = fx.channels.alpha;
    await (await fx.registry.connect(fx.admin).revokeRole(memberRoleOf(alpha), fx.members[2].address)).wait();
    await (await fx.registry.connect(fx.admin).closeChannel(alpha)).wait();
    await (await fx.registry.connect(fx.admin).reopenChannel(alpha)).wait();
    const last = await fx.post("alpha", ["after reopen"]);
    posted.alpha += 1;

    const topics = uniqueTopics("backfill");
    // Many small ranges, so the backfill crosses range boundaries.
    const mirror = new Mirror({ rpcUrl: node.url, registry: fx.address, brokers: kafkaBrokers(), topics, pollIntervalMs: 100, logger: silentLogger, maxBlockRange: 3, maxEventsPerTransaction: 5 });
    mirrors.push(mirror);
    runs.push(mirror.run());
    const cursor = await waitForCursor(topics, `${fx.chainId}:${fx.address.toLowerCase()}`, last.receipt.blockNumber);
    expect(cursor.nextBlock).to.be.greaterThan(last.receipt.blockNumber);

    const messages = (await readTopic(kafka, topics.messages)).map((r) => r.value);
    for (const [name, count] of Object.entries(posted)) {
      const seqs = messages.filter((m) => m.channelName === name).map((m) => Number(m.seq));
      expect(seqs, name).to.deep.equal(Array.from({ length: count }, (_, i) => i + 1));
    }
    expect(messages).to.have.length(posted.alpha + posted.beta);
    // The head chain rebuilds from the events alone and matches the contract's head.
    for (const name of ["alpha", "beta"]) {
      let head = GENESIS_HEAD;
      for (const m of messages.filter((x) => x.channelName === name)) head = nextHead(head, m.digest, BigInt(m.seq));
      expect(head).to.equal((await fx.registry.channelInfo(fx.channels[name])).head.toLowerCase());
    }

    const membership = (await readTopic(kafka, topics.membership)).map((r) => r.value);
    membership.forEach((e) => expect(Value.Check(MembershipEventSchema, e), JSON.stringify(e)).to.equal(true));
    const ofAlpha = membership.filter((e) => e.channelName === "alpha").map((e) => `${e.kind}:${e.role ?? ""}:${e.account ?? ""}`);
    expect(ofAlpha).to.deep.equal([
      `channel-created::${fx.admin.address}`,
      `role-granted:admin:${fx.admin.address}`,
      ...fx.members.map((m) => `role-granted:member:${m.address}`),
      `role-revoked:member:${fx.members[2].address}`,
      "channel-closed::",
      "channel-reopened::",
    ]);
    expect(membership.filter((e) => e.channelName === "beta")).to.have.length(2 + fx.members.length);
    // The registry-wide admin role is not a channel's: not mirrored.
    expect(membership.every((e) => e.channel === alpha || e.channel === fx.channels.beta)).to.equal(true);
    expect(mirror.stats.transactions).to.be.greaterThan(3);
  });


  it("never splits a block over two transactions", function () {
    const ev = (blockNumber: number) => ({ topic: "messages", key: "k", blockNumber, value: { blockHash: `0x${blockNumber}` } }) as any;
    const parts = splitByBlocks({ from: 10, to: 20, toHash: "0x20", toBlock: null, fromParentHash: undefined, events: [ev(10), ev(11), ev(11), ev(11), ev(12), ev(15)] }, 2);
    expect(parts.map((p) => [p.to, p.events.map((e) => e.blockNumber)])).to.deep.equal([
      [10, [10]],
      [11, [11, 11, 11]],
      [20, [12, 15]],
    ]);
    expect(splitByBlocks({ from: 1, to: 5, toHash: "0x5", toBlock: null, fromParentHash: undefined, events: [] }, 10)).to.deep.equal([{ to: 5, toHash: "0x5", events: [] }]);
  });
});
