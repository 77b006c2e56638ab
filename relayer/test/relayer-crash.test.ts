/**
 * Crash test: the relayer runs as its own process (`chainmail relayer`), is killed with
 * SIGKILL while a batch transaction is in the mempool, and is restarted. Clients keep
 * sending their same signed messages; every message ends on-chain exactly once.
 */
import { expect } from "chai";
import { Wallet } from "ethers";
import { submitSigned, type PostResult } from "@chainmail/client";
import { ChainmailProcess, freePort, waitFor } from "@chainmail/testkit";
import { expectContiguousChain, postedLogs } from "./chain-check.js";
import { startFixture, type Fixture } from "./fixture.js";

describe("relayer crash: kill -9 during a batch, restart, clients retry", function () {
  let f: Fixture;
  let relayer: ChainmailProcess | undefined;

  before(async function () {
    f = await startFixture({ blockTimeMs: 1000 });
  });
  afterEach(async function () {
    await relayer?.kill9();
  });
  after(async function () {
    await f?.node.stop();
  });

  it("every message ends on-chain exactly once, seq without gaps", async function () {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const env = {
      CHAINMAIL_RPC_URL: f.node.url,
      CHAINMAIL_REGISTRY: f.location.address.toString(),
      CHAINMAIL_SIGNER_KEYS: f.relayerKey,
      CHAINMAIL_PORT: String(port),
      CHAINMAIL_BATCH_MAX: "10",
      CHAINMAIL_BATCH_WAIT_MS: "20",
      CHAINMAIL_RECEIPT_POLL_MS: "50",
      CHAINMAIL_LOG_LEVEL: "warn",
    };
    relayer = await ChainmailProcess.relayer(env).start();
    await relayer.ready();
    const relayerAddress = new Wallet(f.relayerKey).address;

    const signed = await Promise.all(Array.from({ length: 30 }, (_, i) => f.sign(f.authors[i % 4], `crash-safe ${i}`)));
    const retries: string[] = [];
    const outcomes: Promise<PostResult>[] = signed.map((m) =>
      submitSigned(url, m, { wait: true, retry: { timeoutMs: 90_000, maxDelayMs: 500 }, onRetry: (_n, why) => retries.push(why) }),
    );

    // Kill it while a batch transaction is sent but not yet mined (1-second blocks).
    await waitFor(
      "a batch transaction in the mempool",
      async () => (await f.node.provider.getTransactionCount(relayerAddress, "pending")) > (await f.node.provider.getTransactionCount(relayerAddress, "latest")),
      { timeoutMs: 20_000, intervalMs: 20 },
    );
    await relayer.kill9();
    const [, , seqAtKill] = await f.deployed.registry.channelInfo(f.channel);
    expect(Number(seqAtKill)).to.be.lessThan(30, "the kill came before every message had landed");

    relayer = await ChainmailProcess.relayer(env).start();
    await relayer.ready();
    const results = await Promise.all(outcomes);
    for (const r of results) expect(r.status, JSON.stringify(r)).to.equal("confirmed");
    expect(retries.length, "clients had to retry through the restart").to.be.greaterThan(0);

    const [, , seq, head] = await f.deployed.registry.channelInfo(f.channel);
    expect(seq).to.equal(30n);
    const posted = await postedLogs(f.node.provider, f.location, f.channel);
    expect(posted).to.have.length(30);
    expectContiguousChain(f.location, posted, head, results.map((r) => r.digest));
    // What each client was told is what the chain says.
    for (const r of results) {
      const onChain = posted.find((p) => p.digest === r.digest)!;
      expect((r as { seq: string }).seq).to.equal(onChain.seq.toString());
    }
  });

  it("exits 2 with one sentence per wrong setting", async function () {
    relayer = await ChainmailProcess.relayer({ CHAINMAIL_RPC_URL: "nope", CHAINMAIL_REGISTRY: "0x1234", CHAINMAIL_SIGNER_KEYS: "0xzz", CHAINMAIL_PORT: "99999", CHAINMAIL_BATCH_MAX: "0" }).start();
    const code = await relayer.exited();
    expect(code).to.equal(2);
    const out = relayer.log;
    expect(out).to.match(/CHAINMAIL_RPC_URL is "nope"; it must be an http\(s\):\/\/ or ws\(s\):\/\/ URL\./);
    expect(out).to.match(/CHAINMAIL_REGISTRY is "0x1234"; it must be an address/);
    expect(out).to.match(/CHAINMAIL_SIGNER_KEYS entry 1 is not a 0x-prefixed 32-byte hex private key\./);
    expect(out).to.match(/CHAINMAIL_PORT is "99999"; it must be a whole number from 0 to 65535\./);
    expect(out).to.match(/CHAINMAIL_BATCH_MAX is "0"; it must be a whole number from 1 to 1000\./);
    expect(out).not.to.contain("0xzz");
    expect(out).not.to.match(/\n\s+at /);
  });

  it("stops gracefully on SIGTERM: a waiting client still gets its outcome", async function () {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    relayer = ChainmailProcess.relayer({
      CHAINMAIL_RPC_URL: f.node.url,
      CHAINMAIL_REGISTRY: f.location.address.toString(),
      CHAINMAIL_SIGNER_KEYS: f.relayerKey,
      CHAINMAIL_PORT: String(port),
      CHAINMAIL_BATCH_WAIT_MS: "300",
      CHAINMAIL_LOG_LEVEL: "warn",
    });
    await relayer.start();
    await relayer.ready();
    const m = await f.sign(f.authors[0], "in flight at shutdown");
    const response = fetch(`${url}/v1/messages?wait=true`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ ...m, timestamp: m.timestamp.toString(), replyTo: m.replyTo.toString(), nonce: m.nonce.toString() }),
    });
    await waitFor("the message to be queued", async () => {
      const text = await (await fetch(`${url}/metrics`)).text();
      return /chainmail_relayer_messages_accepted_total 1/.test(text);
    });
    const stopped = relayer.stop();
    const answer = await response;
    expect(answer.status).to.equal(200);
    expect(((await answer.json()) as { status: string }).status).to.equal("confirmed");
    expect(await stopped, relayer.log).to.equal(0);
  });
});
