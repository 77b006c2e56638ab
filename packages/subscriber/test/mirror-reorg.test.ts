/**
 * A real reorganisation below the mirror's finality setting, while the mirror runs: a
 * hardhat node is snapshotted, messages land and are published to the real broker (and
 * seen by `tail`), then the node reverts to the snapshot and other messages take their
 * seqs. The mirror must notice, retract what it published from the replaced blocks, and
 * publish the new chain's messages; tail must follow without a break. With
 * `--finality finalized` the same event is a loud failure (exit 1).
 */
import { expect } from "chai";
import { type Kafka } from "kafkajs";
import { RETRACTION_SCHEMA, retractionEventProblem, type MessageEvent, type RetractionEvent } from "@chainmail/protocol";
import { readCursor, readTopic } from "@chainmail/mirror";
import { silentLogger } from "@chainmail/runtime";
import { tail, type ChainBreak } from "@chainmail/subscriber";
import { startHardhatNode, waitFor, type RunningNode } from "@chainmail/testkit";
import { brokerReachable, kafkaBrokers, MirrorProcess, registryFixture, testKafka, uniqueTopics } from "@chainmail/testkit";

describe("mirror + tail: a chain reorganisation while the mirror runs", function () {
  this.timeout(180_000);
  let node: RunningNode;
  let kafka: Kafka;
  const mirrors: MirrorProcess[] = [];

  before(async function () {
    if (!(await brokerReachable())) throw new Error(`No Kafka broker at ${kafkaBrokers().join(",")}; start one with scripts/kafka/start.sh or set KAFKA_BROKERS.`);
    kafka = testKafka();
  });
  beforeEach(async function () {
    node = await startHardhatNode();
  });
  afterEach(async function () {
    // A failure says what the mirror was doing.
    if (this.currentTest?.state === "failed") for (const m of mirrors) console.error(`mirror (running ${m.running}):`, JSON.stringify(m.lines.slice(-15)), m.stderr.slice(-2000));
    for (const m of mirrors.splice(0)) await m.kill9();
    await node?.stop();
  });

  const mirrorArgs = (registry: string, topics: ReturnType<typeof uniqueTopics>, finality: string) => [
    "--rpc-url", node.url,
    "--registry", registry,
    "--brokers", kafkaBrokers().join(","),
    "--messages-topic", topics.messages,
    "--membership-topic", topics.membership,
    "--cursor-topic", topics.cursor,
    "--poll-interval-ms", "100",
    "--finality", finality,
  ];

  it("retracts what the replaced blocks held, publishes the new chain, and tail follows it", async function () {
    const fx = await registryFixture(node.provider, ["general"]);
    const topics = uniqueTopics("reorg");
    const key = `${fx.chainId}:${fx.address.toLowerCase()}`;
    await fx.post("general", ["one", "two", "three"]);
    const snapshot = await node.provider.send("evm_snapshot", []);
    const replaced = await fx.post("general", ["four (replaced)", "five (replaced)"]);
    // A membership change in a replaced block: the membership topic is retracted too.
    await (await fx.registry.connect(fx.admin).grantRole(await fx.registry.memberRole(fx.channels.general), fx.deployer.address)).wait();
    const replacedTip = await node.provider.getBlockNumber();

    const mirror = new MirrorProcess(mirrorArgs(fx.address, topics, "latest"));
    mirrors.push(mirror);
    const seen: string[] = [];
    const retractions: RetractionEvent[] = [];
    const breaks: ChainBreak[] = [];
    const handle = await tail({
      brokers: kafkaBrokers(),
      topic: topics.messages,
      channel: "general",
      fromBeginning: true,
      onMessage: (e: MessageEvent) => void seen.push(`${e.seq}:${Buffer.from(e.body.slice(2), "hex").toString()}`),
      onRetraction: (r) => {
        retractions.push(r);
        seen.push(`retract from ${r.fromSeq}`);
      },
      onBreak: (b) => void breaks.push(b),
    });
    try {
      await waitFor("the cursor past the blocks about to be replaced", async () => {
        const cursor = await readCursor(kafka, topics.cursor, key, silentLogger);
        return cursor && cursor.nextBlock > replacedTip;
      }, { timeoutMs: 60_000, intervalMs: 200 });
      await waitFor("tail has seen seq 5", async () => seen.includes("5:five (replaced)"), { timeoutMs: 30_000, intervalMs: 100 });

      // The reorganisation: back to the snapshot, then a longer chain with other messages.
      expect(await node.provider.send("evm_revert", [snapshot])).to.equal(true);
      const surviving = await fx.post("general", ["four (new)"]);
      for (let i = 0; i < 4; i++) await node.provider.send("evm_mine", []);
      const newTip = await node.provider.getBlockNumber();
      expect(newTip).to.be.greaterThan(replacedTip);

      await waitFor("tail has seen the new seq 4", async () => seen.includes("4:four (new)"), { timeoutMs: 60_000, intervalMs: 100 });
      expect(seen).to.deep.equal(["1:one", "2:two", "3:three", "4:four (replaced)", "5:five (replaced)", "retract from 4", "4:four (new)"]);
      expect(breaks, JSON.stringify(breaks)).to.deep.equal([]);

      const [retraction] = retractions;
      expect(retractionEventProblem(retraction)).to.equal(null);
      expect(retraction).to.include({ kind: "reorg", fromSeq: "4", fromBlock: replaced.receipt.blockNumber, channel: fx.channels.general.toLowerCase() });
      const channelAt3 = await fx.registry.channelInfo(fx.channels.general, { blockTag: surviving.receipt.blockNumber - 1 });
      expect(retraction.headBefore).to.equal(channelAt3.head.toLowerCase());
      expect(retraction.retractedBlocks).to.deep.equal([{ number: replaced.receipt.blockNumber, hash: replaced.receipt.blockHash.toLowerCase() }]);

      // The topic, read as a reader applying retractions, equals the chain.
      const records = await readTopic(kafka, topics.messages);
      const view: MessageEvent[] = [];
      for (const r of records) {
        if (r.value.schema === RETRACTION_SCHEMA) {
          expect(r.headers.schema).to.equal(RETRACTION_SCHEMA);
          view.splice(view.findIndex((e) => BigInt(e.seq) >= BigInt(r.value.fromSeq)));
        } else view.push(r.value);
      }
      const onChain = await fx.registry.channelInfo(fx.channels.general);
      expect(view.map((e) => e.seq)).to.deep.equal(["1", "2", "3", "4"]);
      expect(view[3].head).to.equal(onChain.head.toLowerCase());
      expect(view[3].transactionHash).to.equal(surviving.receipt.hash.toLowerCase());

      const membership = (await readTopic(kafka, topics.membership)).filter((r) => r.value.schema === RETRACTION_SCHEMA);
      expect(membership.map((r) => r.value.fromBlock)).to.deep.equal([replaced.receipt.blockNumber]);

      const warned = await mirror.waitForLog(/reorganised below the finality setting/);
      expect(warned.commonAncestor).to.equal(replaced.receipt.blockNumber - 1);
      await waitFor("the cursor past the new tip", async () => {
        const cursor = await readCursor(kafka, topics.cursor, key, silentLogger);
        return cursor && cursor.nextBlock > newTip;
      }, { timeoutMs: 30_000, intervalMs: 200 });
      expect(mirror.running).to.equal(true);
    } finally {
      await handle.stop();
    }
  });

  it("stops with exit 1 and a sentence when a block it took as finalized is replaced", async function () {
    const fx = await registryFixture(node.provider, ["general"]);
    const topics = uniqueTopics("reorg-final");
    const key = `${fx.chainId}:${fx.address.toLowerCase()}`;
    const snapshot = await node.provider.send("evm_snapshot", []);
    await fx.post("general", ["one"]);
    const tip = await node.provider.getBlockNumber();
    const mirror = new MirrorProcess(mirrorArgs(fx.address, topics, "finalized"));
    mirrors.push(mirror);
    await waitFor("the cursor past the tip", async () => {
      const cursor = await readCursor(kafka, topics.cursor, key, silentLogger);
      return cursor && cursor.nextBlock > tip;
    }, { timeoutMs: 60_000, intervalMs: 200 });
    await node.provider.send("evm_revert", [snapshot]);
    for (let i = 0; i < 3; i++) await node.provider.send("evm_mine", []);
    expect(await mirror.exited).to.equal(1);
    expect(mirror.stderr + JSON.stringify(mirror.lines)).to.match(/reported finalized, is no longer on the chain/);
    const retractions = (await readTopic(kafka, topics.messages)).filter((r) => r.value.schema === RETRACTION_SCHEMA);
    expect(retractions).to.deep.equal([]);
  });
});
