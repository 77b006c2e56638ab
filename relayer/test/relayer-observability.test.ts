/**
 * What an operator sees when batches fail: the log names each failure (not only the
 * metrics), and a message the relayer gave up on (SubmitFailed, after the pre-checks
 * passed) is not counted as a pre-check rejection.
 */
import { expect } from "chai";
import { Wallet } from "ethers";
import { buildApp, type RelayerApp } from "@chainmail/relayer";
import { createLogger } from "@chainmail/runtime";
import { startFixture, toJson, type Fixture } from "./fixture.js";
import { metric } from "./helpers.js";

describe("relayer observability: batch failures in the log", function () {
  let f: Fixture;
  let app: RelayerApp | undefined;
  before(async function () {
    f = await startFixture();
  });
  after(async function () {
    await app?.close();
    await f?.node.stop();
  });

  it("a paused registry: each failed send is logged, the give-up is an error, and SubmitFailed is not a pre-check rejection", async function () {
    const lines: Array<Record<string, unknown>> = [];
    const logger = createLogger({ name: "chainmail-relayer", level: "info", destination: { write: (line: string) => void lines.push(JSON.parse(line)) } });
    app = await buildApp(f.config(), { defaultMetrics: false, logger });
    const m = await f.sign(f.authors[0], "into a paused registry");
    await (await f.deployed.registry.connect(new Wallet(f.deployer.privateKey, f.node.provider)).pause()).wait();
    const answer = await app.inject({ method: "POST", url: "/v1/messages?wait=true", payload: toJson(m) });
    expect(answer.statusCode, answer.body).to.equal(503);
    expect(JSON.parse(answer.body).code).to.equal("SubmitFailed");
    const text = lines.map((l) => JSON.stringify(l)).join("\n");
    expect(lines.filter((l) => l.msg === "sending a batch failed" || l.msg === "a batch transaction reverted").length, text).to.equal(3);
    expect(lines.some((l) => String(l.msg).startsWith("gave up on a message") && l.digest === JSON.parse(answer.body).digest), text).to.equal(true);
    expect(await metric(app, 'chainmail_relayer_precheck_rejections_total{code="SubmitFailed"}')).to.equal(0);
  });
});
