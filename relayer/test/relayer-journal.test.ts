/**
 * Durable acceptance: a 202 survives the relayer's death. The relayer runs as its own
 * process over a real hardhat node with mining held, accepts messages (HTTP and gRPC)
 * with 202, is killed -9, and is restarted on the same journal; every accepted message
 * ends on-chain exactly once without any client sending it again. Then the journal's
 * own defences: a torn last line, a tampered entry, compaction, the lock.
 */
import { expect } from "chai";
import { spawn } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { Wallet } from "ethers";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { buildApp } from "@chainmail/relayer";
import { RelayerService } from "@chainmail/protocol/grpc";
import { bodyFromText, digestOf } from "@chainmail/protocol";
import { ChainmailProcess, freePort, waitFor } from "@chainmail/testkit";
import { Journal, parse } from "../src/journal.js";
import { journalFile } from "../src/durable.js";
import { expectContiguousChain, postedLogs } from "./chain-check.js";
import { startFixture, toJson, type Fixture } from "./fixture.js";

/** Messages accepted before the kill (CHAINMAIL_TEST_DURABLE_COUNT for a larger run; at least 16). */
const COUNT = Math.max(16, Number(process.env.CHAINMAIL_TEST_DURABLE_COUNT ?? 16));

describe("durable 202: the write-ahead journal", function () {
  let f: Fixture;
  const deploymentHash = async () => (await f.node.provider.getBlock(Number(await f.deployed.registry.deploymentBlock())))!.hash!;
  let dir: string;
  let relayer: ChainmailProcess | undefined;

  before(async function () {
    f = await startFixture();
  });
  beforeEach(async function () {
    dir = await mkdtemp(path.join(os.tmpdir(), "chainmail-journal-"));
  });
  afterEach(async function () {
    await relayer?.kill9();
    relayer = undefined;
    await f.node.provider.send("evm_setAutomine", [true]);
    await rm(dir, { recursive: true, force: true });
  });
  after(async function () {
    await f?.node.stop();
  });

  it("kill -9 with 202'd messages queued and in the mempool: the restarted relayer lands each once, no client resends", async function () {
    const port = await freePort();
    const grpcPort = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const env = {
      CHAINMAIL_RPC_URL: f.node.url,
      CHAINMAIL_REGISTRY: f.location.address.toString(),
      CHAINMAIL_SIGNER_KEYS: f.relayerKey,
      CHAINMAIL_PORT: String(port),
      CHAINMAIL_GRPC_PORT: String(grpcPort),
      CHAINMAIL_JOURNAL_DIR: dir,
      CHAINMAIL_RECEIPT_POLL_MS: "50",
      CHAINMAIL_RATE_AUTHOR_PER_S: "0",
      CHAINMAIL_LOG_LEVEL: "warn",
      // A full batch (10) is sent at once; the rest waits for the batch timer, which
      // never fires before the kill: some messages are in the mempool, some only queued.
      CHAINMAIL_BATCH_MAX: "10",
      CHAINMAIL_BATCH_WAIT_MS: "60000",
    };
    const [, , seqBefore] = await f.deployed.registry.channelInfo(f.channel);
    await f.node.provider.send("evm_setAutomine", [false]); // nothing is mined until we say so
    relayer = await ChainmailProcess.relayer(env).start();
    await relayer.ready();

    const signed = await Promise.all(Array.from({ length: COUNT }, (_, i) => f.sign(f.authors[i % 4], `durable ${i}`)));
    const digests: string[] = [];
    // Over HTTP, one at a time so the first 10 make the full batch...
    for (const m of signed.slice(0, COUNT - 1)) {
      const response = await fetch(`${url}/v1/messages`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(toJson(m)) });
      expect(response.status, await response.clone().text()).to.equal(202);
      digests.push(((await response.json()) as { digest: string }).digest);
    }
    // ...and one through the gRPC door: its accepted answer is as durable.
    const grpc = createClient(RelayerService, createGrpcTransport({ baseUrl: `http://127.0.0.1:${grpcPort}` }));
    const { outcome } = await grpc.postMessage({ message: toJson(signed[COUNT - 1]), wait: false });
    digests.push(outcome!.digest);
    const relayerAddress = new Wallet(f.relayerKey).address;
    await waitFor("the full batch in the mempool", async () => (await f.node.provider.getTransactionCount(relayerAddress, "pending")) > (await f.node.provider.getTransactionCount(relayerAddress, "latest")));

    await relayer.kill9();
    // The batches that reached the node land after the crash; the rest were only in the dead process (and its journal).
    await f.node.provider.send("evm_mine", []);
    const [, , seqAtRestart] = await f.deployed.registry.channelInfo(f.channel);
    const landedBeforeRestart = Number(seqAtRestart - seqBefore);
    expect(landedBeforeRestart).to.be.within(10, COUNT - 6);
    await f.node.provider.send("evm_setAutomine", [true]);

    relayer = await ChainmailProcess.relayer({ ...env, CHAINMAIL_BATCH_WAIT_MS: "20" }).start();
    await relayer.ready();
    // Only status reads from now on: nobody sends a message again.
    await waitFor(
      "every 202'd message confirmed by the restarted relayer",
      async () => {
        const statuses = await Promise.all(digests.map(async (d) => ((await (await fetch(`${url}/v1/messages/${d}`)).json()) as { status: string }).status));
        return statuses.every((s) => s === "confirmed");
      },
      { timeoutMs: 60_000, intervalMs: 200 },
    );
    const [, , seq, head] = await f.deployed.registry.channelInfo(f.channel);
    expect(Number(seq - seqBefore)).to.equal(COUNT, "each accepted message landed exactly once");
    console.log(`      ${COUNT} accepted with 202, ${landedBeforeRestart} in the node's pool at kill -9, ${COUNT - landedBeforeRestart} only in the journal; ${Number(seq - seqBefore)} on-chain once each, 0 lost`);
    const posted = (await postedLogs(f.node.provider, f.location, f.channel)).filter((p) => p.seq > seqBefore);
    expect(posted.map((p) => p.digest).sort()).to.deep.equal([...digests].sort());
    expectContiguousChain(
      f.location,
      await postedLogs(f.node.provider, f.location, f.channel),
      head,
      digests,
    );
    // The ten that had landed were recognised, not re-sent as failures: one more transaction only.
    const rejectedLogs = await f.node.provider.getLogs({ address: f.location.address, fromBlock: 0, topics: [f.deployed.registry.interface.getEvent("MessageRejected").topicHash] });
    expect(rejectedLogs, "no message was sent again and rejected on-chain").to.have.length(0);
    // Everything settled: nothing left to replay.
    await waitFor("the journal to record the settlements", async () => {
      const text = await readFile(journalFile(dir, f.location.address.toString(), relayerAddress, await deploymentHash()), "utf8");
      return parse(text).unsettled.length === 0;
    });
  });

  it("skips a torn last line, refuses a tampered entry (signature re-checked), finishes the good one", async function () {
    const relayerAddress = new Wallet(f.relayerKey).address;
    const file = journalFile(dir, f.location.address.toString(), relayerAddress, await deploymentHash());
    const good = await f.sign(f.authors[0], "journalled before a crash");
    const honest = await f.sign(f.authors[1], "what the author signed");
    // The body changed after signing; the digest in the line is recomputed so only the signature can tell.
    const forged = { ...honest, body: bodyFromText("what an attacker wrote") };
    const forgedDigest = digestOf(f.location, forged).toLowerCase();
    const line = (digest: string, message: object) => JSON.stringify({ op: "accept", digest, message }) + "\n";
    await mkdir(dir, { recursive: true });
    const torn = '{"op":"accept","digest":"0x12'; // the crash came mid-line
    await writeFile(file, line(digestOf(f.location, good).toLowerCase(), toJson(good)) + line(forgedDigest, toJson(forged)) + torn);
    expect(parse(await readFile(file, "utf8")).tornTail).to.equal(true);

    const app = await buildApp(f.config({ journalDir: dir }), { defaultMetrics: false });
    try {
      const goodDigest = digestOf(f.location, good).toLowerCase();
      await waitFor("the journalled message confirmed", async () => (await app.services.index.find(goodDigest))?.status === "confirmed");
      expect(await f.deployed.registry.isNonceUsed(honest.author, honest.nonce), "the tampered message was never sent").to.equal(false);
      const status = await app.inject({ method: "GET", url: `/v1/messages/${forgedDigest}` });
      expect(status.statusCode).to.equal(404);
      await waitFor("the journal settled", async () => parse(await readFile(file, "utf8")).unsettled.length === 0);
      const text = await readFile(file, "utf8");
      expect(text.endsWith("\n"), "the torn tail was dropped at open").to.equal(true);
      expect(text).to.not.contain(forgedDigest.slice(2, 20) + "\",\"message");
    } finally {
      await app.close();
    }
    // The honest version of the message still lands when its author sends it.
    const app2 = await buildApp(f.config({ journalDir: dir }), { defaultMetrics: false });
    try {
      const answer = await app2.inject({ method: "POST", url: "/v1/messages?wait=true", payload: toJson(honest) });
      expect(answer.statusCode, answer.body).to.equal(200);
    } finally {
      await app2.close();
    }
  });

  it("a second relayer cannot open a journal in use; compaction keeps the file to the unsettled backlog", async function () {
    const file = path.join(dir, "unit.journal");
    const { journal } = await Journal.open(file);
    const other = spawn("sleep", ["60"], { stdio: "ignore" }); // any live process that is not us
    try {
      await writeFile(`${file}.lock`, `${other.pid}\n`);
      await Journal.open(file).then(
        () => expect.fail("opened a journal held by a live process"),
        (error: Error) => expect(error.message).to.match(/in use by process \d+: two relayers must not share a journal/),
      );
    } finally {
      other.kill("SIGKILL");
    }
    const m = toJson(await f.sign(f.authors[0], "compact me"));
    const digest = (i: number) => "0x" + i.toString(16).padStart(64, "0");
    await Promise.all(Array.from({ length: 3000 }, (_, i) => journal.accept(digest(i), m)));
    for (let i = 0; i < 2990; i++) journal.settle(digest(i), "confirmed");
    await journal.accept(digest(5000), m); // the next write compacts
    await journal.close();
    const recovered = parse(await readFile(file, "utf8"));
    expect(recovered.unsettled.map((u) => u.digest)).to.deep.equal([...Array.from({ length: 10 }, (_, i) => digest(2990 + i)), digest(5000)]);
    expect((await readFile(file, "utf8")).split("\n").length).to.be.lessThan(100);
  });
});
