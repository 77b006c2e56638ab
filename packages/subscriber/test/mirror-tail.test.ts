/**
 * The subscriber side: the chain checker on forged inputs (unit), the `tail` SDK over
 * what the mirror published (real hardhat node and broker), and the `chainmail tail`
 * CLI on a topic with a broken chain.
 */
import { expect } from "chai";
import { Wallet } from "ethers";
import { Kafka } from "kafkajs";
import { devPrivateKey } from "@chainmail/testkit";
import { Mirror, readCursor } from "@chainmail/mirror";
import { silentLogger } from "@chainmail/runtime";
import { bodyFromText, channelId, digestOf, GENESIS_HEAD, nextHead, signMessage, teamGroupId, toMessageEvent, type MessageEvent } from "@chainmail/protocol";
import { ChainChecker, tail, type ChainBreak } from "@chainmail/subscriber";
import { runChainmail, startHardhatNode, waitFor, type RunningNode } from "@chainmail/testkit";
import { brokerReachable, produceEvents, kafkaBrokers, registryFixture, testKafka, uniqueTopic, uniqueTopics } from "@chainmail/testkit";

const location = { chainId: 31337n, address: "0x5FbDB2315678afecb367f032d93F642f64180aa3" };
const author = new Wallet(devPrivateKey(2));
const stranger = new Wallet(devPrivateKey(7));
const hash32 = (n: number) => "0x" + n.toString(16).padStart(64, "0");

/** A correct chain of `count` signed message events in `channel`, as the mirror would publish them. */
async function chainOf(count: number, channel = "general"): Promise<MessageEvent[]> {
  const events: MessageEvent[] = [];
  let head = GENESIS_HEAD;
  for (let seq = 1; seq <= count; seq++) {
    const signed = await signMessage(author, location, {
      channel: channelId(channel),
      author: author.address,
      body: bodyFromText(`${channel} message ${seq}`),
      contentType: 1,
      timestamp: 1_800_000_000n + BigInt(seq),
      replyTo: 0n,
      nonce: BigInt(seq),
    });
    const digest = digestOf(location, signed);
    head = nextHead(head, digest, BigInt(seq));
    events.push(
      toMessageEvent(
        { chainId: location.chainId, registry: location.address },
        { ...signed, seq: BigInt(seq), head, digest, blockNumber: 10 + seq, blockHash: hash32(seq), transactionHash: hash32(100 + seq), logIndex: 0 },
      ),
    );
  }
  return events;
}

function kinds(checker: ChainChecker, events: unknown[]) {
  return events.map((e) => {
    const outcome = checker.check(e);
    return outcome.status === "broken" ? outcome.break.kind : outcome.status === "ok" && outcome.note ? "ok+note" : outcome.status;
  });
}

describe("tail: the chain checker (unit, forged inputs)", function () {
  let chain: MessageEvent[];
  before(async function () {
    chain = await chainOf(6);
  });

  it("accepts a correct chain from seq 1", function () {
    expect(kinds(new ChainChecker(), chain)).to.deep.equal(["ok", "ok", "ok", "ok", "ok", "ok"]);
  });

  it("trusts the first message seen mid-stream, says so, and checks from there", function () {
    const checker = new ChainChecker();
    const first = checker.check(chain[2]);
    expect(first.status).to.equal("ok");
    expect((first as { note?: string }).note).to.match(/mid-stream at seq 3: trusting its head/);
    expect(kinds(checker, chain.slice(3))).to.deep.equal(["ok", "ok", "ok"]);
  });

  it("names a gap, then continues from the message after it", function () {
    const checker = new ChainChecker();
    const outcomes = chain.filter((e) => e.seq !== "3" && e.seq !== "4").map((e) => checker.check(e));
    expect(outcomes.map((o) => o.status)).to.deep.equal(["ok", "ok", "broken", "ok"]);
    const gap = (outcomes[2] as { break: ChainBreak }).break;
    expect(gap.kind).to.equal("SEQ_GAP");
    expect(gap.message).to.match(/Messages 3 to 4 are missing in general/);
  });

  it("catches an altered body (digest), a forged head, another key's signature", async function () {
    const altered = { ...chain[2], body: bodyFromText("general message 3, edited") };
    expect(kinds(new ChainChecker(), [chain[0], chain[1], altered])).to.deep.equal(["ok", "ok", "BODY_ALTERED"]);

    const forgedHead = { ...chain[2], head: hash32(42) };
    expect(kinds(new ChainChecker(), [chain[0], chain[1], forgedHead, chain[3]])).to.deep.equal(["ok", "ok", "HEAD_MISMATCH", "HEAD_MISMATCH"]);

    const m = chain[2];
    const resigned = await signMessage(stranger, location, {
      channel: m.channel, author: m.author, body: m.body, contentType: m.contentType,
      timestamp: BigInt(m.timestamp), replyTo: BigInt(m.replyTo), nonce: BigInt(m.nonce),
    });
    // The stranger signed the author's message: digest intact, signature not the author's.
    const badSignature = { ...m, signature: resigned.signature.toLowerCase() };
    expect(kinds(new ChainChecker(), [chain[0], chain[1], badSignature])).to.deep.equal(["ok", "ok", "BAD_SIGNATURE"]);

    const firstWithWrongHead = { ...chain[0], head: hash32(1) };
    expect(kinds(new ChainChecker(), [firstWithWrongHead])).to.deep.equal(["HEAD_MISMATCH"]);
  });

  it("catches an altered body whose digest field was recomputed too: neither the signature nor the head chain vouches for it", function () {
    const body = bodyFromText("general message 3, edited");
    const digest = digestOf(location, { ...chain[2], body, timestamp: BigInt(chain[2].timestamp), replyTo: BigInt(chain[2].replyTo), nonce: BigInt(chain[2].nonce) });
    const altered = { ...chain[2], body, digest };
    expect(kinds(new ChainChecker(), [chain[0], chain[1], altered])).to.deep.equal(["ok", "ok", "BODY_ALTERED"]);
  });

  it("reports every finding of one event: a gap and a signature by someone else", async function () {
    const m = chain[3];
    const resigned = await signMessage(stranger, location, {
      channel: m.channel, author: m.author, body: m.body, contentType: m.contentType,
      timestamp: BigInt(m.timestamp), replyTo: BigInt(m.replyTo), nonce: BigInt(m.nonce),
    });
    const outcome = new ChainChecker();
    outcome.check(chain[0]);
    outcome.check(chain[1]);
    const broken = outcome.check({ ...m, signature: resigned.signature.toLowerCase() });
    expect(broken.status).to.equal("broken");
    const breaks = (broken as { breaks: ChainBreak[] }).breaks;
    expect(breaks.map((b) => b.kind)).to.deep.equal(["SEQ_GAP", "BAD_SIGNATURE"]);
    expect(breaks[1].message).to.match(new RegExp(`was made by ${stranger.address}, not by the author ${m.author}`));
  });

  it("ignores an identical redelivery, flags a conflicting one and an out-of-order one", async function () {
    const checker = new ChainChecker();
    expect(kinds(checker, [chain[0], chain[1], chain[1]])).to.deep.equal(["ok", "ok", "redelivered"]);
    // A different, properly signed and chained message under seq 2: only the seq clash is wrong.
    const alt = await signMessage(author, location, {
      channel: chain[1].channel, author: author.address, body: bodyFromText("a different seq 2"), contentType: 1,
      timestamp: 1_800_000_002n, replyTo: 0n, nonce: 999n,
    });
    const altDigest = digestOf(location, alt);
    const altEvent = { ...chain[1], body: alt.body, nonce: "999", signature: alt.signature.toLowerCase(), digest: altDigest, head: nextHead(chain[0].head, altDigest, 2n) };
    expect(kinds(checker, [altEvent, chain[0]])).to.deep.equal(["SEQ_DUPLICATE", "SEQ_ORDER"]);
  });

  it("flags a malformed event", function () {
    const outcome = new ChainChecker().check({ schema: "chainmail.message-event.v1", channel: chain[0].channel, seq: "1" });
    expect(outcome.status).to.equal("broken");
    expect((outcome as { break: ChainBreak }).break.kind).to.equal("KAFKA_MALFORMED");
  });
});


const runTail = (args: string[], timeoutMs = 60_000) => runChainmail(["tail", ...args], {}, timeoutMs);

describe("tail against the real broker", function () {
  let kafka: Kafka;
  before(async function () {
    if (!(await brokerReachable())) throw new Error(`No Kafka broker at ${kafkaBrokers().join(",")}; start one with scripts/kafka/start.sh or set KAFKA_BROKERS.`);
    kafka = testKafka();
  });

  describe("SDK over what the mirror published (real hardhat node)", function () {
    let node: RunningNode;
    let mirror: Mirror | undefined;
    let running: Promise<unknown> | undefined;
    const handles: Array<{ stop(): Promise<void> }> = [];
    before(async function () {
      node = await startHardhatNode();
    });
    after(async function () {
      await Promise.allSettled(handles.map((h) => h.stop()));
      mirror?.stop();
      await running;
      await node?.stop();
    });

    it("delivers a channel's messages in seq order with the chain intact; a team's group resumes where it left off", async function () {
      const fx = await registryFixture(node.provider, ["general", "other"]);
      const topics = uniqueTopics("tail");
      await fx.post("general", ["one", "two", "three"]);
      await fx.post("other", ["elsewhere"]);
      const second = await fx.post("general", ["four", "five"]);
      mirror = new Mirror({ rpcUrl: node.url, registry: fx.address, brokers: kafkaBrokers(), topics, pollIntervalMs: 100, logger: silentLogger });
      running = mirror.run();
      const key = `${fx.chainId}:${fx.address.toLowerCase()}`;
      const mirrored = (block: number) => waitFor(`cursor past ${block}`, async () => ((await readCursor(kafka, topics.cursor, key, silentLogger))?.nextBlock ?? 0) > block, { timeoutMs: 60_000, intervalMs: 200 });
      await mirrored(second.receipt.blockNumber);

      const group = `team-a-${Date.now()}`;
      const seen: string[] = [];
      const breaks: ChainBreak[] = [];
      const notes: string[] = [];
      const confirmations: string[] = [];
      const first = await tail({
        brokers: kafkaBrokers(), topic: topics.messages, channel: "general", groupId: group, fromBeginning: true, rpcUrl: node.url,
        onMessage: (e, c) => {
          seen.push(`${e.seq}:${Buffer.from(e.body.slice(2), "hex").toString()}`);
          confirmations.push(c.status);
        },
        onBreak: (b) => void breaks.push(b),
        onNote: (n) => void notes.push(n),
      });
      handles.push(first);
      await waitFor("five messages", async () => seen.length >= 5);
      expect(seen).to.deep.equal(["1:one", "2:two", "3:three", "4:four", "5:five"]);
      expect(confirmations, "what the mirror published is what the chain holds").to.deep.equal(["confirmed", "confirmed", "confirmed", "confirmed", "confirmed"]);
      expect(breaks).to.deep.equal([]);
      expect(notes).to.deep.equal([]);
      await first.stop();

      // The group committed its position: the same team resumes with what is new.
      const third = await fx.post("general", ["six", "seven"]);
      await mirrored(third.receipt.blockNumber);
      const resumed: string[] = [];
      const again = await tail({
        brokers: kafkaBrokers(), topic: topics.messages, channel: "general", groupId: group,
        onMessage: (e) => void resumed.push(e.seq),
        onBreak: (b) => void breaks.push(b),
        onNote: (n) => void notes.push(n),
      });
      handles.push(again);
      await waitFor("two new messages", async () => resumed.length >= 2);
      expect(resumed).to.deep.equal(["6", "7"]);
      expect(breaks).to.deep.equal([]);
      expect(notes.join(" ")).to.match(/mid-stream at seq 6/);
      await again.stop();

      // --from-beginning with a group that has a position: back to the start.
      const replayed: string[] = [];
      const replay = await tail({
        brokers: kafkaBrokers(), topic: topics.messages, channel: "general", groupId: group, fromBeginning: true,
        onMessage: (e) => void replayed.push(e.seq),
        onBreak: (b) => void breaks.push(b),
      });
      handles.push(replay);
      await waitFor("all seven again", async () => replayed.length >= 7);
      expect(replayed).to.deep.equal(["1", "2", "3", "4", "5", "6", "7"]);
      expect(breaks).to.deep.equal([]);
    });
  });

  it("waits for a topic the mirror has not created yet, without creating it itself", async function () {
    const topic = uniqueTopic("tail-early");
    const seen: string[] = [];
    const notes: string[] = [];
    const controller = new AbortController();
    const starting = tail({
      brokers: kafkaBrokers(), topic, channel: "general", fromBeginning: true, signal: controller.signal,
      onMessage: (e) => void seen.push(e.seq),
      onNote: (n) => void notes.push(n),
    });
    try {
      await waitFor("the waiting note", async () => notes.length > 0);
      expect(notes[0]).to.include(`Topic ${topic} does not exist yet`);
      const admin = kafka.admin();
      await admin.connect();
      const listed = await admin.listTopics();
      await admin.disconnect();
      expect(listed, "tail must not create the mirror's topic").not.to.include(topic);

      await produceEvents(kafka, topic, await chainOf(3));
      await starting;
      await waitFor("three messages", async () => seen.length >= 3);
      expect(seen).to.deep.equal(["1", "2", "3"]);
    } finally {
      controller.abort();
      const handle = await starting.catch(() => undefined);
      await handle?.stop();
    }
  });

  it("commits a team's position only past messages that passed the checks: never past a forgery, nor after it", async function () {
    const chain = await chainOf(4);
    const topic = uniqueTopic("tail-commit");
    const forged = { ...chain[2], body: bodyFromText("general message 3, forged in Kafka") };
    await produceEvents(kafka, topic, [chain[0], chain[1], forged, chain[3]]);
    const team = `commit-${Date.now().toString(36)}`;
    const group = teamGroupId(team, channelId("general"));
    const committed = async () => {
      const admin = kafka.admin();
      await admin.connect();
      try {
        const [t] = await admin.fetchOffsets({ groupId: group, topics: [topic] });
        return t.partitions[0].offset;
      } finally {
        await admin.disconnect();
      }
    };
    const seen: string[] = [];
    const breaks: ChainBreak[] = [];
    const notes: string[] = [];
    const handle = await tail({
      brokers: kafkaBrokers(), topic, channel: "general", team,
      onMessage: (e) => void seen.push(e.seq), onBreak: (b) => void breaks.push(b), onNote: (n) => void notes.push(n),
    });
    try {
      expect(handle.groupId).to.equal(group);
      await waitFor("the break and the message after it", async () => breaks.length > 0 && seen.length >= 3);
      expect(seen).to.deep.equal(["1", "2", "4"]);
      expect(breaks.map((b) => b.kind)).to.deep.equal(["BODY_ALTERED"]);
      expect(notes.join(" ")).to.match(/Not committing the group's position past the break/);
      // Offsets 0 and 1 passed; 2 is the forgery: the group stays at 2 even though 4 (offset 3) was read.
      await waitFor("the commit of seq 2", async () => (await committed()) === "2");
    } finally {
      await handle.stop();
    }
    expect(await committed()).to.equal("2");

    // The same team reading again starts at the forgery, sees the break itself, and still commits nothing past it.
    const again: ChainBreak[] = [];
    const second = await tail({ brokers: kafkaBrokers(), topic, channel: "general", team, onMessage: () => undefined, onBreak: (b) => void again.push(b) });
    try {
      await waitFor("the break again", async () => again.length > 0);
      expect(again[0].seq).to.equal("3");
    } finally {
      await second.stop();
    }
    expect(await committed()).to.equal("2");
  });

  it("with a correct chain, a team's position ends past the last message", async function () {
    const chain = await chainOf(3);
    const topic = uniqueTopic("tail-commit-ok");
    await produceEvents(kafka, topic, [chain[0], chain[1], chain[2]]);
    const team = `commit-ok-${Date.now().toString(36)}`;
    const seen: string[] = [];
    const handle = await tail({ brokers: kafkaBrokers(), topic, channel: "general", team, onMessage: (e) => void seen.push(e.seq) });
    try {
      await waitFor("three messages", async () => seen.length >= 3);
      const admin = kafka.admin();
      await admin.connect();
      try {
        await waitFor("the commit past seq 3", async () => (await admin.fetchOffsets({ groupId: handle.groupId, topics: [topic] }))[0].partitions[0].offset === "3");
      } finally {
        await admin.disconnect();
      }
    } finally {
      await handle.stop();
    }
  });

  describe("chainmail tail (CLI)", function () {
    it("prints the messages and exits 1 with a loud line when a message is missing", async function () {
      const chain = await chainOf(4);
      const topic = uniqueTopic("tail-gap");
      await produceEvents(testKafka(), topic, [chain[0], chain[1], chain[3]]);
      const result = await runTail(["--channel", "general", "--topic", topic, "--brokers", kafkaBrokers().join(","), "--from-beginning"]);
      expect(result.code, result.stderr).to.equal(1);
      expect(result.stdout.trim().split("\n").map((l) => l.split(" ")[0])).to.deep.equal(["#1", "#2"]);
      expect(result.stdout).to.contain("general message 1");
      expect(result.stderr).to.match(/CHAIN BROKEN \(SEQ_GAP\) in general at seq 4: Message 3 is missing/);
    });

    it("with --keep-going reports the break and keeps following", async function () {
      const chain = await chainOf(4);
      const topic = uniqueTopic("tail-keep");
      const altered = { ...chain[1], body: bodyFromText("tampered") };
      await produceEvents(testKafka(), topic, [chain[0], altered, chain[2], chain[3]]);
      const result = await runTail(["--channel", "general", "--topic", topic, "--brokers", kafkaBrokers().join(","), "--from-beginning", "--keep-going", "--max-messages", "3", "--json"]);
      expect(result.code, result.stderr).to.equal(0);
      expect(result.stdout.trim().split("\n").map((l) => JSON.parse(l).seq)).to.deep.equal(["1", "3", "4"]);
      expect(result.stderr).to.match(/CHAIN BROKEN \(BODY_ALTERED\) in general at seq 2/);
    });

    it("refuses wrong input with one sentence and exit 2", async function () {
      const missing = await runTail(["--brokers", kafkaBrokers().join(",")]);
      expect(missing.code).to.equal(2);
      expect(missing.stderr.trim()).to.equal("chainmail tail: Give the channel to follow with --channel <name>.");
      const badMax = await runTail(["--channel", "general", "--max-messages", "zero"]);
      expect(badMax.code).to.equal(2);
      expect(badMax.stderr).to.match(/--max-messages is "zero"; it must be a whole number of at least 1\./);
    });
  });
});
