/**
 * Graceful shutdown against a real node: a batch still waiting to be mined when the
 * relayer is told to stop. The drain may take CHAINMAIL_SHUTDOWN_TIMEOUT_MS, longer
 * than Fastify's own 10-second close-hook timeout; the waiting client must get its
 * outcome, and the app must close cleanly.
 */
import { expect } from "chai";
import { buildApp, type RelayerApp } from "@chainmail/relayer";
import { waitFor } from "@chainmail/testkit";
import { startFixture, toJson, type Fixture } from "./fixture.js";

describe("relayer shutdown: the drain is not cut short", function () {
  this.timeout(90_000);
  let f: Fixture;
  let app: RelayerApp | undefined;
  before(async function () {
    f = await startFixture();
  });
  after(async function () {
    await f?.node.stop();
  });

  it("a client waiting on a batch mined 10.5 s into the drain gets its confirmation, and close() resolves", async function () {
    await f.node.provider.send("evm_setAutomine", [false]);
    app = await buildApp(f.config({ shutdownTimeoutMs: 30_000, waitTimeoutMs: 60_000 }), { defaultMetrics: false });
    const address = await app.listen({ host: "127.0.0.1", port: 0 });
    const m = await f.sign(f.authors[0], "mined while the relayer drains");
    const answered = fetch(`${address}/v1/messages?wait=true`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(toJson(m)),
    }).then(async (r) => ({ status: r.status, body: await r.json() }));
    await waitFor("the batch in the mempool", async () => (await f.node.provider.send("eth_getBlockByNumber", ["pending", false])).transactions.length > 0, {
      intervalMs: 20,
    });
    const closing = app.close().then(
      () => ({ ok: true }),
      (error: unknown) => ({ ok: false, error }),
    );
    // Past Fastify's default 10 s close-hook timeout, on purpose: that is the bound under test.
    await new Promise((r) => setTimeout(r, 10_500));
    await f.node.provider.send("evm_mine", []);
    const [answer, closed] = await Promise.all([answered, closing]);
    expect(closed.ok, `close() failed: ${String((closed as { error?: unknown }).error)}`).to.equal(true);
    expect(answer.status, JSON.stringify(answer.body)).to.equal(200);
    expect(answer.body.status).to.equal("confirmed");
    app = undefined;
  });
});
