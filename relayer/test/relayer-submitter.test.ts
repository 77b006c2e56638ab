/**
 * The submitter against a real node's mempool: a signer nonce used behind the
 * relayer's back (nonce too low), a transaction stuck without mining (replaced with a
 * higher fee at the same nonce), and one the node forgot (sent again).
 */
import { expect } from "chai";
import { Wallet } from "ethers";
import { devPrivateKey } from "@chainmail/testkit";
import { buildApp, type RelayerApp } from "@chainmail/relayer";
import { randomNonce } from "@chainmail/protocol";
import { createLogger } from "@chainmail/runtime";
import { waitFor } from "@chainmail/testkit";
import { expectContiguousChain, postedLogs } from "./chain-check.js";
import { startFixture, toJson, type Fixture } from "./fixture.js";
import { metric } from "./helpers.js";

describe("submitter: nonces and stuck transactions on a real node", function () {
  let f: Fixture;
  let app: RelayerApp | undefined;
  beforeEach(async function () {
    f = await startFixture();
  });
  afterEach(async function () {
    await app?.close();
    app = undefined;
    await f?.node.stop();
  });

  it("recovers by itself when its signer's nonce was used elsewhere (nonce too low)", async function () {
    app = await buildApp(f.config(), { defaultMetrics: false });
    const first = await app.inject({ method: "POST", url: "/v1/messages?wait=true", payload: toJson(await f.sign(f.authors[0], "one")) });
    expect(first.statusCode).to.equal(200);
    // Another process spends the relayer key's next nonces.
    const sameKey = new Wallet(f.relayerKey, f.node.provider);
    for (let i = 0; i < 2; i++) await (await sameKey.sendTransaction({ to: sameKey.address, value: 1n })).wait();
    const second = await app.inject({ method: "POST", url: "/v1/messages?wait=true", payload: toJson(await f.sign(f.authors[1], "two")) });
    expect(second.statusCode, second.body).to.equal(200);
    expect(JSON.parse(second.body).seq).to.equal("2");
    expect(await metric(app, 'chainmail_relayer_nonce_resyncs_total{cause="nonce-too-low"}')).to.be.greaterThan(0);
  });

  it("replaces a stuck transaction with a higher fee at the same nonce, and settles from the replacement", async function () {
    // No automine, no interval: transactions wait in the mempool until we mine.
    await f.node.provider.send("evm_setAutomine", [false]);
    const lines: Array<{ msg: string; nonce?: number; transaction?: string }> = [];
    const logger = createLogger({ name: "chainmail-relayer", level: "info", destination: { write: (line: string) => void lines.push(JSON.parse(line)) } });
    app = await buildApp(f.config({ replaceAfterMs: 300, receiptPollMs: 50 }), { defaultMetrics: false, logger });
    const m = await f.sign(f.authors[0], "stuck for a while");
    const accepted = await app.inject({ method: "POST", url: "/v1/messages", payload: toJson(m) });
    expect(accepted.statusCode).to.equal(202);
    const relayer = new Wallet(f.relayerKey).address;
    const fromRelayer = (t: { from: string }) => t.from.toLowerCase() === relayer.toLowerCase();
    const original = await waitFor("the first attempt in the mempool", async () =>
      (await f.node.provider.send("eth_getBlockByNumber", ["pending", true])).transactions.find(fromRelayer),
      { intervalMs: 20 },
    );
    await waitFor("a replacement", async () => (await metric(app!, "chainmail_relayer_transaction_replacements_total")) >= 1, { timeoutMs: 10_000 });
    // One transaction per nonce in the pool: the replacement took the original's place.
    const pool = await f.node.provider.send("eth_getBlockByNumber", ["pending", true]);
    const ours = pool.transactions.filter(fromRelayer);
    expect(ours).to.have.length(1);
    expect(ours[0].hash).not.to.equal(original.hash);
    expect(ours[0].nonce).to.equal(original.nonce, "same nonce");
    // The fee bump is in the log, naming the nonce and the replacement, not only in the metrics.
    const bump = lines.find((l) => l.msg.includes("replaced it with a higher fee"));
    expect(bump, JSON.stringify(lines)).to.not.equal(undefined);
    expect(bump!.nonce).to.equal(Number(original.nonce));
    expect(bump!.transaction?.toLowerCase()).to.equal(ours[0].hash.toLowerCase());
    await f.node.provider.send("evm_mine", []);
    const digest = JSON.parse(accepted.body).digest;
    const status = await waitFor("confirmation", async () => {
      const s = JSON.parse((await app!.inject({ method: "GET", url: `/v1/messages/${digest}` })).body);
      return s.status === "confirmed" ? s : undefined;
    });
    const tx = await f.node.provider.getTransaction(status.transactionHash);
    expect(status.transactionHash).not.to.equal(original.hash, "settled from the replacement");
    // At least the configured 20% more than the first attempt, tip and fee cap.
    expect(tx!.maxPriorityFeePerGas! * 100n >= BigInt(original.maxPriorityFeePerGas) * 120n).to.equal(true);
    expect(tx!.maxFeePerGas! * 100n >= BigInt(original.maxFeePerGas) * 120n).to.equal(true);
    const [, , seq, head] = await f.deployed.registry.channelInfo(f.channel);
    expect(seq).to.equal(1n);
    expectContiguousChain(f.location, await postedLogs(f.node.provider, f.location, f.channel), head, [digest]);
  });

  it("the gas bound is enough for worst-case messages (4096 random bytes, fresh nonce words, cold authors)", async function () {
    app = await buildApp(f.config({ batchMaxWaitMs: 200 }), { defaultMetrics: false });
    const posts = [];
    for (let i = 0; i < 30; i++) {
      const body = "0x" + Buffer.from(crypto.getRandomValues(new Uint8Array(4096))).toString("hex");
      posts.push(app.inject({ method: "POST", url: "/v1/messages?wait=true", payload: toJson(await f.sign(f.authors[i % 4], "", { body })) }));
    }
    const results = await Promise.all(posts);
    for (const r of results) expect(JSON.parse(r.body).status, r.body).to.equal("confirmed");
    expect(await metric(app, 'chainmail_relayer_transactions_total{result="reverted"}')).to.equal(0);
    expect(await metric(app, "chainmail_relayer_batch_size_sum")).to.equal(30);
    expect(await metric(app, "chainmail_relayer_batch_size_count")).to.be.lessThan(30, "they were batched");
  });

  it("a batch the node runs out of gas (fresh nonce words after cheap batches) makes the sizer ask the node again: every message confirmed", async function () {
    const words = f.authors.slice(0, 4).map(() => (BigInt(randomNonce()) >> 8n) << 8n);
    const postAll = async (a: RelayerApp, bit: bigint, text: string) =>
      Promise.all(
        f.authors.slice(0, 4).map(async (author, i) =>
          a.inject({ method: "POST", url: "/v1/messages?wait=true", payload: toJson(await f.sign(author, `${text} ${i}`, { nonce: words[i] + bit })) }),
        ),
      );
    // Another relayer writes the authors' nonce words first, so that this relayer's first
    // batch (the one it sizes from the node's estimate) is cheap: warm words only.
    const warmer = await buildApp(f.config({ batchMaxWaitMs: 100 }), { defaultMetrics: false });
    for (const r of await postAll(warmer, 0n, "warms the word")) expect(JSON.parse(r.body).status, r.body).to.equal("confirmed");
    await warmer.close();
    app = await buildApp(f.config({ batchMaxWaitMs: 100 }), { defaultMetrics: false });
    for (const r of await postAll(app, 1n, "cheap")) expect(JSON.parse(r.body).status, r.body).to.equal("confirmed");
    // Each of these opens a fresh word (about 17,000 gas more a message than it learned).
    const fresh = await postAll(app, 256n, "opens a fresh word");
    for (const r of fresh) expect(JSON.parse(r.body).status, r.body).to.equal("confirmed");
  });

  it("two relayers sending the same signed message: it lands once, and both report its one place on-chain", async function () {
    await f.node.provider.send("evm_setAutomine", [false]);
    app = await buildApp(f.config(), { defaultMetrics: false });
    const other = await buildApp(f.config({ signerKeys: [devPrivateKey(11)] }), { defaultMetrics: false });
    try {
      const m = await f.sign(f.authors[0], "sent through two relayers");
      const a = await app.inject({ method: "POST", url: "/v1/messages", payload: toJson(m) });
      expect(a.statusCode).to.equal(202);
      const pending = async () => (await f.node.provider.send("eth_getBlockByNumber", ["pending", false])).transactions.length;
      await waitFor("the first relayer's batch in the mempool", async () => (await pending()) === 1);
      // Not mined yet, so the second relayer's pre-check finds the nonce unused and sends it too.
      const b = await other.inject({ method: "POST", url: "/v1/messages", payload: toJson(m) });
      expect(b.statusCode).to.equal(202);
      await waitFor("both batches in the mempool", async () => (await pending()) === 2);
      await f.node.provider.send("evm_mine", []);
      const digest = JSON.parse(a.body).digest;
      const settled = async (relayer: RelayerApp) =>
        waitFor("an outcome", async () => {
          const s = JSON.parse((await relayer.inject({ method: "GET", url: `/v1/messages/${digest}` })).body);
          return s.status !== "pending" ? s : undefined;
        });
      const [fromA, fromB] = await Promise.all([settled(app), settled(other)]);
      expect(fromA.status).to.equal("confirmed");
      expect(fromB).to.deep.equal(fromA);
      const [, , seq, head] = await f.deployed.registry.channelInfo(f.channel);
      expect(seq).to.equal(1n);
      expectContiguousChain(f.location, await postedLogs(f.node.provider, f.location, f.channel), head, [digest]);
      // The loser's copy was refused on-chain as a replay, and counted as no new confirmation.
      expect(await metric(app, "chainmail_relayer_messages_confirmed_total") + (await metric(other, "chainmail_relayer_messages_confirmed_total"))).to.equal(1);
    } finally {
      await other.close();
    }
  });

  it("sends a dropped transaction again", async function () {
    await f.node.provider.send("evm_setAutomine", [false]);
    app = await buildApp(f.config({ replaceAfterMs: 300, receiptPollMs: 50 }), { defaultMetrics: false });
    const accepted = await app.inject({ method: "POST", url: "/v1/messages", payload: toJson(await f.sign(f.authors[2], "dropped once")) });
    const relayer = new Wallet(f.relayerKey).address;
    const pending = await waitFor("the batch in the mempool", async () => {
      const block = await f.node.provider.send("eth_getBlockByNumber", ["pending", true]);
      return block.transactions.find((t: { from: string }) => t.from.toLowerCase() === relayer.toLowerCase());
    });
    // The node loses it (as a restarted node or a full pool would).
    expect(await f.node.provider.send("hardhat_dropTransaction", [pending.hash])).to.equal(true);
    await waitFor("a rebroadcast", async () => (await metric(app!, "chainmail_relayer_transaction_rebroadcasts_total")) >= 1, { timeoutMs: 10_000 });
    await f.node.provider.send("evm_mine", []);
    const digest = JSON.parse(accepted.body).digest;
    await waitFor("confirmation", async () => JSON.parse((await app!.inject({ method: "GET", url: `/v1/messages/${digest}` })).body).status === "confirmed");
    const [, , seq] = await f.deployed.registry.channelInfo(f.channel);
    expect(seq).to.equal(1n);
  });
});
