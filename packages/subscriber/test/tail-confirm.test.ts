/**
 * `tail` never presents a message the chain does not vouch for: records a member signed
 * correctly (digest, signature and head chain all consistent, so the Kafka-only checks
 * pass) but that were never posted are marked unconfirmed against a real hardhat node,
 * through the SDK and the CLI; genuine records are confirmed.
 */
import { expect } from "chai";
import { Kafka } from "kafkajs";
import { RpcClient, type RpcLog, fromRpcLog } from "@chainmail/chain";
import { bodyFromText, channelId, decodeMessagePosted, digestOf, MESSAGE_POSTED_TOPIC, nextHead, signMessage, toMessageEvent, type MessageEvent } from "@chainmail/protocol";
import { ChainConfirmer, tail, type Confirmation } from "@chainmail/subscriber";
import { brokerReachable, produceEvents, kafkaBrokers, registryFixture, runChainmail, startHardhatNode, testKafka, uniqueTopic, waitFor, type RunningNode } from "@chainmail/testkit";

const hash32 = (n: number) => "0x" + n.toString(16).padStart(64, "0");


/** `chainmail tail ARGS`, with no CHAINMAIL_RPC_URL from this environment unless `env` gives one. */
const runTail = (args: string[], env: Record<string, string> = {}, timeoutMs = 60_000) =>
  runChainmail(["tail", ...args], { CHAINMAIL_RPC_URL: "", ...env }, timeoutMs);

describe("tail confirms against the chain (real hardhat node and broker)", function () {
  let node: RunningNode;
  let kafka: Kafka;
  let genuine: MessageEvent[];
  /** Seq 4, signed by a member and chained onto the real head, but never posted. */
  let forged: MessageEvent;
  let fx: Awaited<ReturnType<typeof registryFixture>>;

  before(async function () {
    if (!(await brokerReachable())) throw new Error(`No Kafka broker at ${kafkaBrokers().join(",")}; start one with scripts/kafka/start.sh or set KAFKA_BROKERS.`);
    kafka = testKafka();
    node = await startHardhatNode();
    fx = await registryFixture(node.provider, ["general"]);
    await fx.post("general", ["one", "two"]);
    await fx.post("general", ["three"]);
    const rpc = new RpcClient(node.url);
    const logs = await rpc.call<RpcLog[]>("eth_getLogs", [{ address: fx.address, fromBlock: "0x0", toBlock: "latest", topics: [MESSAGE_POSTED_TOPIC] }]);
    const ctx = { chainId: fx.chainId, registry: fx.address };
    genuine = logs.map((l) => toMessageEvent(ctx, decodeMessagePosted(fx.location, fromRpcLog(l))));
    expect(genuine.map((e) => e.seq)).to.deep.equal(["1", "2", "3"]);

    const author = fx.members[0];
    const signed = await signMessage(author, fx.location, {
      channel: channelId("general"), author: author.address, body: bodyFromText("four, never posted"), contentType: 1,
      timestamp: BigInt(genuine[2].timestamp), replyTo: 0n, nonce: 4242n,
    });
    const digest = digestOf(fx.location, signed);
    const last = genuine[2];
    forged = toMessageEvent(ctx, {
      ...signed, seq: 4n, digest, head: nextHead(last.head, digest, 4n),
      blockNumber: last.blockNumber + 1, blockHash: hash32(7), transactionHash: hash32(8), logIndex: 0,
    });
  });
  after(async () => node?.stop());

  it("the SDK: genuine records confirmed, the forged one unconfirmed (the Kafka-only checks pass it)", async function () {
    const topic = uniqueTopic("tail-confirm");
    await produceEvents(kafka, topic, [...genuine, forged]);
    const seen: Array<[string, Confirmation]> = [];
    const breaks: unknown[] = [];
    const handle = await tail({
      brokers: kafkaBrokers(), topic, channel: "general", fromBeginning: true, rpcUrl: node.url, registry: fx.address,
      onMessage: (e, c) => void seen.push([e.seq, c]),
      onBreak: (b) => void breaks.push(b),
    });
    try {
      await waitFor("four messages", async () => seen.length >= 4);
    } finally {
      await handle.stop();
    }
    expect(breaks, "a consistent forgery passes the Kafka-only checks").to.deep.equal([]);
    expect(seen.map(([seq, c]) => `${seq}:${c.status}`)).to.deep.equal(["1:confirmed", "2:confirmed", "3:confirmed", "4:unconfirmed"]);
    expect(seen[2][1].detail).to.match(new RegExp(`message 3 of general is registry ${fx.address.toLowerCase()}'s event in block \\d+ \\(0x[0-9a-f]{64}\\)`));
    expect(seen[3][1].detail).to.equal(`message 4 of general: the chain has no transaction ${hash32(8)}.`);
  });

  it("a named group's position is committed past confirmed messages only: an unconfirmed one is not delivered", async function () {
    const topic = uniqueTopic("tail-confirm-group");
    await produceEvents(kafka, topic, [...genuine, forged]);
    const groupId = `confirm-${Date.now()}`;
    const seen: string[] = [];
    const notes: string[] = [];
    const handle = await tail({
      brokers: kafkaBrokers(), topic, channel: "general", groupId, fromBeginning: true, rpcUrl: node.url, registry: fx.address,
      onMessage: (e, c) => void seen.push(`${e.seq}:${c.status}`),
      onNote: (n) => void notes.push(n),
    });
    try {
      await waitFor("four messages", async () => seen.length >= 4);
    } finally {
      await handle.stop();
    }
    expect(seen).to.deep.equal(["1:confirmed", "2:confirmed", "3:confirmed", "4:unconfirmed"]);
    expect(notes.join(" ")).to.contain("Not committing the group's position past seq 4 of general or after it: the chain does not confirm it.");
    const admin = kafka.admin();
    await admin.connect();
    try {
      const [offsets] = await admin.fetchOffsets({ groupId, topics: [topic] });
      expect(offsets.partitions.map((p) => p.offset), "committed past seq 3, not past the unconfirmed seq 4").to.deep.equal(["3"]);
    } finally {
      await admin.disconnect();
    }
  });

  it("the CLI with --rpc-url marks the forged record UNCONFIRMED (text and --json); without it, says it is trusting Kafka", async function () {
    const topic = uniqueTopic("tail-confirm-cli");
    await produceEvents(kafka, topic, [...genuine, forged]);
    const common = ["--channel", "general", "--topic", topic, "--brokers", kafkaBrokers().join(","), "--from-beginning", "--max-messages", "4"];

    const text = await runTail([...common, "--rpc-url", node.url, "--registry", fx.address]);
    expect(text.code, text.stderr).to.equal(0);
    const lines = text.stdout.trim().split("\n");
    expect(lines.map((l) => l.split(" ")[0])).to.deep.equal(["#1", "#2", "#3", "UNCONFIRMED"]);
    expect(lines[3]).to.match(/^UNCONFIRMED #4 .*: four, never posted$/);
    expect(text.stderr).to.contain(`note: confirming each message against the chain at ${node.url}`);
    expect(text.stderr).to.contain(`UNCONFIRMED: message 4 of general: the chain has no transaction ${hash32(8)}.`);
    expect(text.stderr).not.to.contain("trusting Kafka");

    // The environment variable does the same; --json says so in each line.
    const json = await runTail([...common, "--json"], { CHAINMAIL_RPC_URL: node.url });
    expect(json.code, json.stderr).to.equal(0);
    const records = json.stdout.trim().split("\n").map((l) => JSON.parse(l));
    expect(records.map((r) => `${r.seq}:${r.confirmation.status}`)).to.deep.equal(["1:confirmed", "2:confirmed", "3:confirmed", "4:unconfirmed"]);
    expect(records[3].confirmation.detail).to.contain("the chain has no transaction");

    const trusting = await runTail([...common, "--json"]);
    expect(trusting.code, trusting.stderr).to.equal(0);
    expect(trusting.stdout.trim().split("\n").map((l) => JSON.parse(l).confirmation.status)).to.deep.equal(["trusting-kafka", "trusting-kafka", "trusting-kafka", "trusting-kafka"]);
    expect(trusting.stderr).to.contain("note: trusting Kafka");
  });

  it("the confirmer refuses records that borrow a genuine transaction, block or registry, and says when it cannot ask", async function () {
    const confirmer = new ChainConfirmer(node.url, fx.address);
    const [one, two, three] = genuine;
    expect((await confirmer.confirm(three)).status).to.equal("confirmed");
    // The forged message placed at a real message's transaction and log index.
    const borrowed = { ...forged, blockNumber: three.blockNumber, blockHash: three.blockHash, transactionHash: three.transactionHash, logIndex: three.logIndex };
    expect(await confirmer.confirm(borrowed)).to.deep.equal({
      status: "unconfirmed",
      detail: `message 4 of general: the chain's event at log index ${three.logIndex} of transaction ${three.transactionHash} differs in seq, digest, head, body, signature, nonce.`,
    });
    // A real message under another real message's position (same transaction, other log).
    const swapped = { ...two, logIndex: one.logIndex };
    expect((await confirmer.confirm(swapped)).detail).to.match(/differs in seq, digest, head, body, signature, nonce\.$/);
    const otherBlock = { ...three, blockHash: hash32(9) };
    expect((await confirmer.confirm(otherBlock)).detail).to.equal(`message 3 of general: transaction ${three.transactionHash} is in block ${three.blockHash} on the chain, not in ${hash32(9)} as the record says.`);
    const noLog = { ...three, logIndex: three.logIndex + 5 };
    expect((await confirmer.confirm(noLog)).detail).to.match(/has no MessagePosted event of registry 0x[0-9a-f]{40} at log index \d+\.$/);
    const otherChain = { ...three, chainId: "1" };
    expect((await confirmer.confirm(otherChain)).detail).to.equal("message 3 of general: the record names chain 1, the node is chain 31337.");
    // Only the registry the subscriber names confirms: another contract's identical-looking event does not.
    const elsewhere = new ChainConfirmer(node.url, "0x" + "11".repeat(20));
    expect((await elsewhere.confirm(three)).detail).to.match(/the record names registry 0x[0-9a-fA-F]{40}, not 0x(11){20}\.$/);
    const down = new ChainConfirmer("http://127.0.0.1:9");
    const unreachable = await down.confirm(three);
    expect(unreachable.status).to.equal("unconfirmed");
    expect(unreachable.detail).to.match(/^message 3 of general: could not ask the chain \(.*cannot reach the node/);
  });
});
