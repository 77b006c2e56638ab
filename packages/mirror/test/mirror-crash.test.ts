/**
 * Exactly once under failure, with the mirror as a real child process
 * (`chainmail mirror ...`, compiled): kill -9 mid-stream and restart, and two
 * instances with the same transactional id at once (one is fenced).
 */
import { expect } from "chai";
import { Kafka } from "kafkajs";
import { readCursor, readTopic } from "@chainmail/mirror";
import { silentLogger } from "@chainmail/runtime";
import { startHardhatNode, waitFor, type RunningNode } from "@chainmail/testkit";
import {
  brokerReachable,
  kafkaBrokers,
  MirrorProcess,
  registryFixture,
  testKafka,
  uniqueTopics,
  expectExactlyOnce,
} from "@chainmail/testkit";

type Fixture = Awaited<ReturnType<typeof registryFixture>>;

/** Posts `batches` batches of `perBatch` messages, alternating channels; returns the last block. */
async function postTraffic(fx: Fixture, channels: string[], batches: number, perBatch: number, posted: Record<string, number>) {
  let lastBlock = 0;
  for (let b = 0; b < batches; b++) {
    const channel = channels[b % channels.length];
    const { receipt } = await fx.post(channel, Array.from({ length: perBatch }, (_, i) => `${channel} batch ${b} #${i}`));
    posted[channel] = (posted[channel] ?? 0) + perBatch;
    lastBlock = receipt.blockNumber;
  }
  return lastBlock;
}

describe("mirror: exactly once across crashes and competing instances", function () {
  let node: RunningNode;
  let kafka: Kafka;
  let children: MirrorProcess[] = [];

  before(async function () {
    if (!(await brokerReachable())) throw new Error(`No Kafka broker at ${kafkaBrokers().join(",")}; start one with scripts/kafka/start.sh or set KAFKA_BROKERS.`);
    kafka = testKafka();
    node = await startHardhatNode();
  });
  afterEach(async function () {
    if (this.currentTest?.state === "failed") {
      children.forEach((c, i) => console.error(`--- mirror ${i} (pid ${c.child.pid}) log ---\n${c.lines.map((l) => JSON.stringify(l)).join("\n")}\n${c.stderr}`));
    }
    await Promise.all(children.map((c) => c.kill9()));
    children = [];
  });
  after(async function () {
    await node?.stop();
  });

  function mirrorArgs(fx: Fixture, topics: ReturnType<typeof uniqueTopics>) {
    return [
      "--rpc-url", node.url,
      "--registry", fx.address,
      "--brokers", kafkaBrokers().join(","),
      "--messages-topic", topics.messages,
      "--membership-topic", topics.membership,
      "--cursor-topic", topics.cursor,
      "--poll-interval-ms", "50",
      // Small ranges: many transactions, so a kill lands between or inside them.
      "--max-block-range", "2",
      "--max-events-per-transaction", "10",
      "--retry-max-ms", "1000",
    ];
  }

  function spawnMirror(fx: Fixture, topics: ReturnType<typeof uniqueTopics>) {
    const child = new MirrorProcess(mirrorArgs(fx, topics));
    children.push(child);
    return child;
  }

  const committedCount = (child: MirrorProcess) => child.lines.filter((l) => l.msg === "committed").length;

  async function waitForCursorPast(fx: Fixture, topics: ReturnType<typeof uniqueTopics>, block: number) {
    await waitFor(`cursor past block ${block}`, async () => {
      const cursor = await readCursor(kafka, topics.cursor, `${fx.chainId}:${fx.address.toLowerCase()}`, silentLogger);
      return cursor && cursor.nextBlock > block;
    }, { timeoutMs: 90_000, intervalMs: 300 });
  }

  it("kill -9 mid-stream, restart twice: every event exactly once, in seq order per channel", async function () {
    const fx = await registryFixture(node.provider, ["red", "blue"]);
    const topics = uniqueTopics("crash");
    const posted: Record<string, number> = {};
    // Some history first, then traffic while the mirror is killed and restarted.
    await postTraffic(fx, ["red", "blue"], 6, 7, posted);
    const traffic = postTraffic(fx, ["red", "blue"], 30, 5, posted);

    for (let round = 0; round < 2; round++) {
      const child = spawnMirror(fx, topics);
      await waitFor("the mirror to commit a few transactions", async () => {
        if (!child.running) throw new Error(`mirror exited early: ${child.stderr}`);
        return committedCount(child) >= 3;
      }, { timeoutMs: 60_000, intervalMs: 20 });
      await child.kill9();
      expect(child.child.signalCode).to.equal("SIGKILL");
    }
    const survivor = spawnMirror(fx, topics);
    const lastBlock = await traffic;
    await waitForCursorPast(fx, topics, lastBlock);
    expect(survivor.running).to.equal(true);

    expectExactlyOnce(await readTopic(kafka, topics.messages), posted);
    const membership = await readTopic(kafka, topics.membership);
    const positions = membership.map((r) => `${r.value.blockNumber}:${r.value.logIndex}`);
    expect(new Set(positions).size).to.equal(positions.length);
    // Per channel: created, admin granted, two members granted.
    expect(membership).to.have.length(2 * 4);
    // The restarts resumed from the committed cursor, not from the deployment block.
    const resumed = survivor.logged(/^mirror started$/);
    expect(resumed.cursor).to.equal("committed cursor");
    expect(resumed.resumeFrom).to.be.greaterThan(fx.deploymentBlock);
  });

  for (const staggered of [false, true]) {
    it(`two instances with one transactional id${staggered ? ", the second started while the first publishes" : ", started at once"}: one is fenced and stops, no duplicates`, async function () {
      const fx = await registryFixture(node.provider, ["green", "gray"]);
      const topics = uniqueTopics("fence");
      const posted: Record<string, number> = {};
      await postTraffic(fx, ["green", "gray"], 4, 5, posted);
      let trafficDone = false;
      const traffic = (async () => {
        // Keep blocks coming until one instance notices it was fenced (it must try to publish).
        let last = 0;
        while (!trafficDone) last = await postTraffic(fx, ["green", "gray"], 1, 3, posted);
        return last;
      })();
      let first: MirrorProcess;
      let second: MirrorProcess;
      try {
        first = spawnMirror(fx, topics);
        if (staggered) {
          await waitFor("the first instance to publish", async () => {
            if (!first.running) throw new Error(`mirror exited early: ${first.stderr}`);
            return committedCount(first) >= 3;
          }, { timeoutMs: 60_000, intervalMs: 20 });
        }
        second = spawnMirror(fx, topics);
        await waitFor("one instance to be fenced", async () => !first.running || !second.running, { timeoutMs: 90_000, intervalMs: 50 });
      } finally {
        trafficDone = true;
      }
      const lastBlock = await traffic;
      const [fenced, survivor] = first.running ? [second, first] : [first, second];
      expect(await fenced.exited, fenced.stderr).to.equal(3);
      expect(fenced.logged(/^fenced: another mirror instance with transactional id/), "a clear log line").to.not.equal(undefined);
      expect(survivor.running).to.equal(true);
      await waitForCursorPast(fx, topics, lastBlock);
      expect(survivor.running).to.equal(true);
      expectExactlyOnce(await readTopic(kafka, topics.messages), posted);
      // Staggered, the newer instance wins: starting fences the running one.
      if (staggered) expect(fenced).to.equal(first);
    });
  }
});
