/**
 * Batch gas on a chain whose gas schedule is not the one the relayer's per-message
 * bound assumes: geth --dev's own fork set (future forks included), where a message
 * with a fresh nonce word costs about 132k gas, twice the bound. A new relayer must not
 * send a batch that runs out of gas, must keep every transaction under the per-
 * transaction cap (EIP-7825: 16,777,216) and the block's limit by splitting a burst,
 * and must keep under CHAINMAIL_MAX_BATCH_GAS.
 */
import { expect } from "chai";
import { buildApp, type RelayerApp } from "@chainmail/relayer";
import { startGethNode } from "@chainmail/testkit";
import { startFixture, toJson, type Fixture } from "../fixture.js";
import { metric } from "../helpers.js";

const TX_GAS_CAP = 16_777_216n;

describe("batch gas on geth with future forks (messages cost twice the bound)", function () {
  this.timeout(240_000);
  let f: Fixture;
  let app: RelayerApp | undefined;
  before(async function () {
    f = await startFixture({ node: () => startGethNode({ forks: "all", blockTimeMs: 1000 }) });
  });
  afterEach(async function () {
    await app?.close();
    app = undefined;
  });
  after(async function () {
    await f?.node.stop();
  });

  /** Posts `count` messages at once (wait=true) and returns each transaction's gas limit and the answers. */
  async function burst(count: number): Promise<{ gasLimits: bigint[]; seqs: number[] }> {
    const messages = await Promise.all(Array.from({ length: count }, (_, i) => f.sign(f.authors[i % f.authors.length], `burst ${i}`)));
    const answers = await Promise.all(messages.map((m) => app!.inject({ method: "POST", url: "/v1/messages?wait=true", payload: toJson(m) })));
    for (const a of answers) expect(a.statusCode, a.body).to.equal(200);
    const bodies = answers.map((a) => JSON.parse(a.body));
    const hashes = [...new Set(bodies.map((b) => b.transactionHash as string))];
    const gasLimits = await Promise.all(hashes.map(async (h) => (await f.node.provider.getTransaction(h))!.gasLimit));
    return { gasLimits, seqs: bodies.map((b) => Number(b.seq)) };
  }

  it("a new relayer's first batch does not run out of gas", async function () {
    app = await buildApp(f.config({ batchMaxSize: 100, batchMaxWaitMs: 300 }), { defaultMetrics: false });
    await burst(30);
    expect(await metric(app, 'chainmail_relayer_transactions_total{result="reverted"}')).to.equal(0);
    expect(await metric(app, 'chainmail_relayer_transactions_total{result="mined"}')).to.be.greaterThan(0);
  });

  it("splits a burst too big for one transaction: every gas limit under 16,777,216 and the block's limit", async function () {
    app = await buildApp(f.config({ batchMaxSize: 400, batchMaxWaitMs: 500, maxBatchGas: 100_000_000 }), { defaultMetrics: false });
    const { gasLimits } = await burst(150);
    const blockLimit = (await f.node.provider.getBlock("latest"))!.gasLimit;
    expect(gasLimits.length, "150 messages at ~132k gas do not fit in one transaction").to.be.greaterThan(1);
    for (const limit of gasLimits) {
      expect(limit <= TX_GAS_CAP, `gas limit ${limit}`).to.equal(true);
      expect(limit <= blockLimit, `gas limit ${limit} over the block's ${blockLimit}`).to.equal(true);
    }
    expect(await metric(app, 'chainmail_relayer_transactions_total{result="reverted"}')).to.equal(0);
    expect(await metric(app, 'chainmail_relayer_transactions_total{result="send-failed"}')).to.equal(0);
  });

  it("keeps every gas limit under CHAINMAIL_MAX_BATCH_GAS", async function () {
    app = await buildApp(f.config({ batchMaxSize: 100, batchMaxWaitMs: 300, maxBatchGas: 1_000_000 }), { defaultMetrics: false });
    const { gasLimits } = await burst(20);
    expect(gasLimits.length).to.be.greaterThan(1);
    for (const limit of gasLimits) expect(limit <= 1_000_000n, `gas limit ${limit}`).to.equal(true);
    expect(await metric(app, 'chainmail_relayer_transactions_total{result="reverted"}')).to.equal(0);
  });
});
