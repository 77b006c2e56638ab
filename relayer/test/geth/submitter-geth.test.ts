/**
 * The submitter's recovery paths where only a real client's pool shows them (geth,
 * Osaka, 1-second blocks): a transaction of the signer stuck below the base fee at its
 * pending nonce, and a zero-gas relayer on a node that never mines zero-price
 * transactions. What the relayer did must be in its log, not only in metrics.
 */
import { expect } from "chai";
import { Wallet } from "ethers";
import { buildApp, type RelayerApp } from "@chainmail/relayer";
import { createLogger } from "@chainmail/runtime";
import { startGethNode } from "@chainmail/testkit";
import { startFixture, toJson, type Fixture } from "../fixture.js";

function capturedLogger() {
  const lines: Array<Record<string, unknown>> = [];
  const logger = createLogger({ name: "chainmail-relayer", level: "info", destination: { write: (line: string) => void lines.push(JSON.parse(line)) } });
  return { logger, lines, text: () => lines.map((l) => JSON.stringify(l)).join("\n") };
}

describe("submitter recovery on geth", function () {
  this.timeout(180_000);
  let f: Fixture;
  let app: RelayerApp | undefined;
  before(async function () {
    f = await startFixture({ node: () => startGethNode({ blockTimeMs: 1000 }) });
  });
  afterEach(async function () {
    await app?.close();
    app = undefined;
  });
  after(async function () {
    await f?.node.stop();
  });

  it("a transaction of the signer stuck below the base fee at its pending nonce is replaced; messages confirm; the log says so", async function () {
    const signer = new Wallet(f.relayerKey, f.node.provider);
    const nonce = await f.node.provider.getTransactionCount(signer.address, "latest");
    const baseFee = (await f.node.provider.getBlock("latest"))!.baseFeePerGas!;
    // 1 wei: under geth dev's base fee (which never falls below 7 wei): the pool keeps it, no block includes it.
    expect(baseFee > 1n).to.equal(true);
    const stuck = await signer.sendTransaction({ to: signer.address, value: 0n, nonce, gasLimit: 21_000n, maxFeePerGas: 1n, maxPriorityFeePerGas: 1n });
    expect(await f.node.provider.getTransactionCount(signer.address, "pending")).to.equal(nonce + 1);

    const log = capturedLogger();
    app = await buildApp(f.config({ waitTimeoutMs: 60_000 }), { defaultMetrics: false, logger: log.logger });
    const answers = await Promise.all(
      [0, 1, 2].map(async (i) => app!.inject({ method: "POST", url: "/v1/messages?wait=true", payload: toJson(await f.sign(f.authors[i], `behind a stuck transaction ${i}`)) })),
    );
    for (const a of answers) expect(a.statusCode, `${a.body}\n${log.text()}`).to.equal(200);
    for (const a of answers) expect(JSON.parse(a.body).status).to.equal("confirmed");
    // The stuck transaction's nonce went to the relayer's cancellation, not to it.
    expect(await f.node.provider.getTransactionReceipt(stuck.hash)).to.equal(null);
    expect(await f.node.provider.getTransactionCount(signer.address, "latest")).to.be.greaterThan(nonce + 1);
    const warned = log.lines.find((l) => String(l.msg).includes("did not send"));
    expect(warned, log.text()).to.not.equal(undefined);
    expect(warned!.nonces).to.deep.equal([nonce]);
    expect(log.lines.some((l) => String(l.msg).includes("replaced a foreign pooled transaction with a cancellation"))).to.equal(true);
  });

  it("zero-gas mode on geth: /readyz is not ready and says why, and the log says so at start", async function () {
    const log = capturedLogger();
    app = await buildApp(f.config({ gasMode: "zero" }), { defaultMetrics: false, logger: log.logger });
    const ready = await app.inject({ method: "GET", url: "/readyz" });
    expect(ready.statusCode, ready.body).to.equal(503);
    const check = JSON.parse(ready.body).checks.find((c: { name: string }) => c.name === "zero gas");
    expect(check, ready.body).to.not.equal(undefined);
    expect(check.ok).to.equal(false);
    expect(check.detail).to.match(/geth never mines zero-price transactions/);
    expect(check.detail).to.include("Besu");
    expect(log.lines.some((l) => (l.level === 50 || l.level === "error") && String(l.msg).includes("never mines zero-price"))).to.equal(true);
  });

  it("the same node in the default (auto) gas mode is ready", async function () {
    app = await buildApp(f.config(), { defaultMetrics: false });
    const ready = await app.inject({ method: "GET", url: "/readyz" });
    expect(ready.statusCode, ready.body).to.equal(200);
  });
});
