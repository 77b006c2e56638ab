/**
 * The whole flow on geth, as a private network runs it (Osaka fork set, 100 M gas,
 * 1-second blocks): registry and channel deployed early (blocks 1-15, where a padded
 * quantity such as "0x03" breaks), the chain then past block 300 (256 and up: "0x0100"),
 * a relayer with several signer keys, the mirror, `chainmail tail` and `chainmail audit`
 * against the chain and Kafka. Every part a separate process over JSON-RPC and Kafka.
 */
import { expect } from "chai";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { Wallet } from "ethers";
import { signedMessageJson } from "@chainmail/client";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { ErrorInfoSchema, MessageOutcome_Status, RelayerService } from "@chainmail/protocol/grpc";
import { bodyFromText, channelId, randomNonce, signMessage, type SignedMessage } from "@chainmail/protocol";
import {
  ChainmailProcess,
  createChannelWithMembers,
  deployRegistry,
  devPrivateKey,
  freePort,
  kafkaBrokers,
  runChainmail,
  startGethNode,
  waitFor,
  uniqueTopics,
  type RunningGeth,
} from "@chainmail/testkit";

const SIGNER_KEYS = [13, 14, 15].map(devPrivateKey);
const MESSAGES = 60;

describe("the whole flow on geth (1-second blocks, Osaka, past block 300)", function () {
  this.timeout(300_000);
  const brokers = kafkaBrokers().join(",");
  const topics = uniqueTopics("e2e-geth");
  let node: RunningGeth;
  let relayer: ChainmailProcess | undefined;
  let mirror: ChainmailProcess | undefined;
  let registry: string;
  let chainId: bigint;
  let relayerUrl: string;
  let grpcPort: number;
  let scratch: string;
  const alice = new Wallet(devPrivateKey(2));
  const bob = new Wallet(devPrivateKey(3));

  before(async function () {
    node = await startGethNode({
      blockTimeMs: 1000,
      minBlocks: 300,
      beforeBlocks: async (early) => {
        const deployed = await deployRegistry(new Wallet(devPrivateKey(0), early.provider));
        registry = deployed.address;
        chainId = deployed.chainId;
        await createChannelWithMembers(deployed.registry, "general", new Wallet(devPrivateKey(1), early.provider), [alice.address, bob.address]);
      },
    });
    scratch = mkdtempSync(path.join(tmpdir(), "chainmail-e2e-geth-"));
    grpcPort = await freePort();
    relayer = ChainmailProcess.relayer({
      CHAINMAIL_GRPC_PORT: String(grpcPort),
      CHAINMAIL_RPC_URL: node.url,
      CHAINMAIL_REGISTRY: registry,
      CHAINMAIL_SIGNER_KEYS: SIGNER_KEYS.join(","),
      CHAINMAIL_LOG_LEVEL: "info",
      // Small batches, so that 60 messages spread over the three lanes.
      CHAINMAIL_BATCH_MAX: "10",
    });
    mirror = new ChainmailProcess(["mirror"], {
      CHAINMAIL_RPC_URL: node.url,
      CHAINMAIL_REGISTRY: registry,
      KAFKA_BROKERS: brokers,
      CHAINMAIL_MESSAGES_TOPIC: topics.messages,
      CHAINMAIL_MEMBERSHIP_TOPIC: topics.membership,
      CHAINMAIL_MIRROR_CURSOR_TOPIC: topics.cursor,
      CHAINMAIL_MIRROR_TRANSACTIONAL_ID: `${topics.messages}.mirror`,
      CHAINMAIL_MIRROR_POLL_MS: "200",
      CHAINMAIL_LOG_LEVEL: "warn",
    });
    await mirror.start();
    await relayer.start();
    await relayer.ready(60_000);
    relayerUrl = relayer.url;
  });

  after(async function () {
    await relayer?.kill9();
    await mirror?.kill9();
    await node?.stop();
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  async function sign(author: Wallet, text: string): Promise<SignedMessage> {
    const latest = await node.provider.getBlock("latest");
    const timestamp = BigInt(Math.max(Math.floor(Date.now() / 1000), latest!.timestamp));
    return signMessage(author, { chainId, address: registry }, {
      channel: channelId("general"),
      author: author.address,
      body: bodyFromText(text),
      contentType: 1,
      replyTo: 0n,
      nonce: randomNonce(),
      timestamp,
    });
  }

  it("confirms messages sent through several signer keys, mirrors them past block 300, tails and audits clean", async function () {
    const head = await node.provider.getBlockNumber();
    expect(head, "the chain should be past block 300").to.be.greaterThan(300);
    const started = Date.now();
    const messages = await Promise.all(Array.from({ length: MESSAGES }, (_, i) => sign(i % 2 ? bob : alice, `geth message ${i}`)));
    const answers = await Promise.all(
      messages.map(async (m) => {
        const r = await fetch(`${relayerUrl}/v1/messages?wait=true`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(signedMessageJson(m)) });
        return { status: r.status, body: await r.json() };
      }),
    );
    for (const a of answers) expect(a.status, `${JSON.stringify(a.body)}\nrelayer: ${relayer!.log.slice(-3000)}`).to.equal(200);
    const seqs = answers.map((a) => Number(a.body.seq)).sort((x, y) => x - y);
    expect(seqs).to.deep.equal(Array.from({ length: MESSAGES }, (_, i) => i + 1));
    console.log(`      ${MESSAGES} messages confirmed on geth in ${Date.now() - started} ms`);

    // Several lanes really worked: the batches came from more than one signer.
    const senders = new Set<string>();
    for (const tx of new Set(answers.map((a) => a.body.transactionHash as string))) {
      const t = await node.provider.getTransaction(tx);
      senders.add(t!.from.toLowerCase());
    }
    expect(senders.size, "batches should be spread over the signer keys").to.be.greaterThan(1);

    const tailed = await runChainmail(["tail", "--channel", "general", "--brokers", brokers, "--topic", topics.messages, "--from-beginning", "--max-messages", String(MESSAGES)], {}, 120_000);
    expect(tailed.code, `${tailed.stderr}\nmirror: ${mirror!.log}`).to.equal(0);
    const lines = tailed.stdout.trim().split("\n");
    expect(lines).to.have.length(MESSAGES);
    lines.forEach((line, i) => expect(line).to.match(new RegExp(`^#${i + 1} `)));

    // Up to the head: geth dev's finalized block (the audit's default) trails in 32-block steps.
    const toBlock = await node.provider.getBlockNumber();
    const audited = await runChainmail(["audit", "--rpc-url", node.url, "--registry", registry, "--brokers", brokers, "--topic", topics.messages, "--to-block", String(toBlock)], {}, 120_000);
    expect(audited.code, audited.stdout + audited.stderr).to.equal(0);
    expect(audited.stdout).to.match(new RegExp(`general\\s+${MESSAGES} messages\\s+seq 1\\.\\.${MESSAGES} \\(stored ${MESSAGES}\\)`));
    expect(audited.stdout).to.match(new RegExp(`Kafka .* ${MESSAGES} message events compared\\s+ok`));
    expect(audited.stdout).to.include("Clean:");
  });

  it("through gRPC on geth: Subscribe sends the messages, checked, and resumes mid-channel; at SIGTERM an open Subscribe and an open PostMessages stream end UNAVAILABLE naming where to resume, and the relayer exits 0", async function () {
    const client = createClient(RelayerService, createGrpcTransport({ baseUrl: `http://127.0.0.1:${grpcPort}` }));
    const seqs: bigint[] = [];
    const subscribed = (async () => {
      for await (const m of client.subscribe({ channel: "general", fromSeq: 1n })) seqs.push(m.message!.seq);
    })().catch((error: unknown) => ConnectError.from(error));
    let release!: () => void;
    const idle = new Promise<void>((resolve) => (release = resolve));
    const one = await sign(alice, "a producer's stream, left open");
    async function* requests() {
      yield { message: signedMessageJson(one), wait: true };
      await idle;
    }
    const replies = client.postMessages(requests())[Symbol.asyncIterator]();
    try {
      const first = (await replies.next()).value!;
      expect(first.result.case === "outcome" && first.result.value.status, first.result.case === "refusal" ? first.result.value.message : "").to.equal(MessageOutcome_Status.CONFIRMED);
      await waitFor("Subscribe at every message", async () => seqs.length === MESSAGES + 1, { timeoutMs: 60_000 });
      expect(seqs).to.deep.equal(Array.from({ length: MESSAGES + 1 }, (_, i) => BigInt(i + 1)));
      // Resumed mid-channel: the message before from_seq is found in a block final by geth's rule, and checked.
      const resumed: bigint[] = [];
      for await (const m of client.subscribe({ channel: "general", fromSeq: BigInt(MESSAGES) }, { signal: AbortSignal.timeout(60_000) })) {
        resumed.push(m.message!.seq);
        if (resumed.length === 2) break;
      }
      expect(resumed).to.deep.equal([BigInt(MESSAGES), BigInt(MESSAGES + 1)]);

      const stopped = relayer!.stop(30_000);
      const ended = await replies.next().then(
        () => undefined,
        (error: unknown) => ConnectError.from(error),
      );
      expect(ended?.code).to.equal(Code.Unavailable);
      expect(ended?.findDetails(ErrorInfoSchema)[0]?.reason).to.equal("ShuttingDown");
      expect(ended?.rawMessage).to.include("send those from index 1 on again");
      const subscribeEnded = await subscribed;
      expect(subscribeEnded?.code).to.equal(Code.Unavailable);
      expect(subscribeEnded?.rawMessage).to.include(`from_seq ${MESSAGES + 2}`);
      expect(await stopped, relayer!.log.slice(-2000)).to.equal(0);
    } finally {
      release();
    }
  });
});
