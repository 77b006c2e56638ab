/**
 * Kafka goes away for about 20 seconds while messages keep landing on-chain: the
 * mirror retries with backoff and, once the broker is back, publishes the backlog;
 * nothing is lost and nothing is doubled. Uses its OWN broker (scripts/kafka/start.sh
 * on free ports with its own data directory) so it can stop and start it.
 */
import { expect } from "chai";
import { readCursor, readTopic } from "@chainmail/mirror";
import { silentLogger } from "@chainmail/runtime";
import { startHardhatNode, waitFor, type RunningNode } from "@chainmail/testkit";
import { expectExactlyOnce, MirrorProcess, OwnBroker, registryFixture, testKafka, uniqueTopics } from "@chainmail/testkit";

const OUTAGE_MS = 20_000;

describe("mirror: the broker stops mid-stream and comes back", function () {
  this.timeout(240_000);
  let node: RunningNode;
  let broker: OwnBroker;
  let mirror: MirrorProcess | undefined;

  before(async function () {
    broker = new OwnBroker();
    await broker.start();
    node = await startHardhatNode();
  });
  after(async function () {
    await mirror?.kill9();
    await node?.stop();
    await broker?.destroy();
  });

  it("retries with backoff and loses nothing, doubles nothing", async function () {
    const kafka = testKafka(broker.brokers);
    const fx = await registryFixture(node.provider, ["ops", "dev"]);
    const topics = uniqueTopics("outage");
    const key = `${fx.chainId}:${fx.address.toLowerCase()}`;
    const posted: Record<string, number> = {};
    let lastBlock = 0;
    let batch = 0;
    const postOne = async () => {
      const channel = batch % 2 ? "ops" : "dev";
      const { receipt } = await fx.post(channel, Array.from({ length: 4 }, (_, i) => `${channel} ${batch} #${i}`));
      posted[channel] = (posted[channel] ?? 0) + 4;
      lastBlock = receipt.blockNumber;
      batch++;
    };
    for (let i = 0; i < 4; i++) await postOne();

    mirror = new MirrorProcess([
      "--rpc-url", node.url,
      "--registry", fx.address,
      "--brokers", broker.brokers.join(","),
      "--messages-topic", topics.messages,
      "--membership-topic", topics.membership,
      "--cursor-topic", topics.cursor,
      "--poll-interval-ms", "100",
      "--max-block-range", "3",
      "--retry-max-ms", "2000",
    ]);
    const cursorPast = (block: number) =>
      waitFor(`cursor past block ${block}`, async () => {
        const cursor = await readCursor(kafka, topics.cursor, key, silentLogger);
        return cursor && cursor.nextBlock > block;
      }, { timeoutMs: 90_000, intervalMs: 300 });
    await cursorPast(lastBlock);

    await broker.stop();
    const downSince = Date.now();
    // Messages keep landing on-chain for the whole outage.
    while (Date.now() - downSince < OUTAGE_MS) await postOne();
    const retries = mirror.lines.filter((l) => l.stage === "kafka" && /retrying with backoff/.test(l.msg));
    expect(retries.length, "the mirror noticed the outage and retried").to.be.greaterThan(1);
    expect(mirror.running, mirror.stderr).to.equal(true);

    await broker.start();
    for (let i = 0; i < 3; i++) await postOne();
    await cursorPast(lastBlock);
    expect(mirror.running).to.equal(true);
    expectExactlyOnce(await readTopic(kafka, topics.messages), posted);
    expect(batch).to.be.greaterThan(10);
    expect(await mirror.stop()).to.equal(0);
  });
});
