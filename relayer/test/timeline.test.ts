/// <reference lib="dom" />
// (the functions given to page.evaluate and $$eval run in the browser, on its DOM)
/**
 * The timeline page in a real browser: Debian's chromium, headless, driven by
 * playwright-core, against a real relayer (hardhat node, mirror, Kafka, a team reading
 * with tail). It checks what people see: posted messages in seq order with replies, a
 * verification badge computed in the page, delivery ticks, live updates, hostile
 * content shown as text, and a message altered in transit marked as failed.
 * Screenshots are written to a temporary directory (the path is printed).
 */
import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { expect } from "chai";
import { chromium, type Browser, type Page } from "playwright-core";
import { Mirror } from "@chainmail/mirror";
import { silentLogger } from "@chainmail/runtime";
import { tail, type TailHandle } from "@chainmail/subscriber";
import { brokerReachable, devPrivateKey, kafkaBrokers, uniqueTopic, uniqueTopics, waitFor } from "@chainmail/testkit";
import { buildApp, type RelayerApp } from "@chainmail/relayer";
import { startFixture, toJson, type Fixture } from "./fixture.js";

const CHROMIUM = "/usr/bin/chromium";

describe("the timeline page in headless chromium", function () {
  let fx: Fixture;
  let app: RelayerApp;
  let mirror: Mirror;
  let mirroring: Promise<unknown>;
  let browser: Browser;
  let address: string;
  let reader: TailHandle | undefined;
  const topics = uniqueTopics("timeline");
  const shots = mkdtempSync(path.join(tmpdir(), "chainmail-timeline-"));
  // Groups are per topic and every run uses new topics, so plain names do not collide across runs.
  const team = "payments";

  before(async function () {
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: run scripts/chromium.sh (as root: apt-get install -y chromium).`);
    if (!(await brokerReachable())) throw new Error(`No Kafka broker at ${kafkaBrokers().join(",")}.`);
    fx = await startFixture();
    app = await buildApp(fx.config({ kafkaBrokers: kafkaBrokers(), messagesTopic: topics.messages, subscriptionsTopic: uniqueTopic("timeline.subs") }), { defaultMetrics: false });
    await app.services.teams.ready();
    address = await app.listen({ host: "127.0.0.1", port: 0 });
    mirror = new Mirror({ rpcUrl: fx.node.url, registry: fx.deployed.address, brokers: kafkaBrokers(), topics, pollIntervalMs: 100, logger: silentLogger });
    mirroring = mirror.run();
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: process.getuid?.() === 0 ? ["--no-sandbox"] : [] });
    console.log(`      screenshots in ${shots}`);
  });

  after(async function () {
    await reader?.stop();
    await browser?.close();
    mirror?.stop();
    await mirroring;
    await app?.close();
    await fx?.node.stop();
  });

  const post = async (author: number, text: string, replyTo = 0n) => {
    const signed = await fx.sign(fx.authors[author], text, { replyTo });
    const response = await app.inject({ method: "POST", url: "/v1/messages?wait=true", payload: toJson(signed) });
    expect(response.statusCode, response.body).to.equal(200);
  };
  const open = async (page: Page) => {
    const problems: string[] = [];
    page.on("pageerror", (error) => problems.push(error.message));
    await page.goto(`${address}/ui/#general`);
    return problems;
  };
  const cards = (page: Page) =>
    page.$$eval("#messages .message", (items) =>
      items.map((item) => ({
        seq: (item as HTMLElement).dataset.seq,
        verdict: (item as HTMLElement).dataset.verdict,
        reply: item.classList.contains("reply"),
        body: item.querySelector(".body")?.textContent,
        badge: item.querySelector(".badge")?.textContent,
        ticks: item.querySelector(".ticks")?.textContent,
      })),
    );

  it("shows the channel's messages in seq order with replies, verified in the page, with delivery ticks, and new ones as they arrive", async function () {
    await post(0, "Deploy window opens at 14:00 UTC.");
    await post(1, "Ack: the payments team is ready.", 1n);
    await post(2, "Rollback plan attached in the runbook.", 1n);
    await post(0, '<img src=x onerror="window.__pwned=1"> is just text here');
    expect((await app.inject({ method: "PUT", url: `/v1/subscriptions/${team}/${fx.channel}` })).statusCode).to.equal(201);
    expect((await app.inject({ method: "PUT", url: `/v1/subscriptions/audit-desk/${fx.channel}` })).statusCode).to.be.oneOf([200, 201]);
    const seen: string[] = [];
    reader = await tail({ brokers: kafkaBrokers(), topic: topics.messages, channel: "general", team, onMessage: (e) => void seen.push(e.seq) });
    await waitFor("the team read four messages", async () => seen.length >= 4, { timeoutMs: 60_000, intervalMs: 200 });

    const page = await browser.newPage({ viewport: { width: 1100, height: 640 } });
    const problems = await open(page);
    await page.waitForFunction(() => document.querySelectorAll("#messages .message").length === 4, undefined, { timeout: 30_000 });
    await page.waitForFunction(() => document.querySelectorAll("#messages .tick.delivered").length === 4, undefined, { timeout: 30_000 });
    const shown = await cards(page);
    expect(shown.map((c) => c.seq)).to.deep.equal(["1", "2", "3", "4"]);
    expect(shown.map((c) => c.verdict)).to.deep.equal(["verified", "verified", "verified", "verified"]);
    expect(shown.map((c) => c.reply)).to.deep.equal([false, true, true, false]);
    expect(shown[0].body).to.equal("Deploy window opens at 14:00 UTC.");
    expect(shown[0].ticks).to.contain(`✓✓ ${team}`);
    expect(shown[0].ticks).to.contain("· audit-desk");
    // A member's HTML is shown as text and never runs.
    expect(shown[3].body).to.equal('<img src=x onerror="window.__pwned=1"> is just text here');
    expect(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned)).to.equal(undefined);
    expect(await page.$$eval("#messages img", (imgs) => imgs.length)).to.equal(0);
    expect(await page.textContent("#channel-summary")).to.contain("4 messages · all verified in this browser");
    expect(await page.textContent("#where")).to.contain(fx.deployed.address);
    await page.screenshot({ path: path.join(shots, "timeline.png") });

    // Live: a new message shows up without a reload, verified, and ticks once the team read it.
    await post(3, "Window closed; all green.", 1n);
    await page.waitForFunction(() => document.querySelectorAll("#messages .message").length === 5, undefined, { timeout: 30_000 });
    await page.waitForFunction(() => document.querySelectorAll("#messages .tick.delivered").length === 5, undefined, { timeout: 30_000 });
    expect((await cards(page))[4]).to.include({ seq: "5", verdict: "verified", body: "Window closed; all green.", reply: true });
    await page.screenshot({ path: path.join(shots, "timeline-live.png") });
    expect(problems).to.deep.equal([]);
    await page.close();
  });

  it("marks a message altered in transit as failed, and only that one", async function () {
    const page = await browser.newPage({ viewport: { width: 1100, height: 640 } });
    // A man in the middle rewrites message 2's text on its way to the browser (digest and signature untouched).
    await page.route("**/v1/channels/*/messages*", async (route) => {
      const response = await route.fetch();
      const page = await response.json();
      for (const m of page.messages) {
        if (m.seq === "2") {
          m.text = "Ack: the payments team is NOT ready.";
          m.body = "0x" + Buffer.from(m.text).toString("hex");
        }
      }
      await route.fulfill({ response, json: page });
    });
    const problems = await open(page);
    await page.waitForFunction(() => document.querySelectorAll("#messages .message").length >= 5, undefined, { timeout: 30_000 });
    const shown = await cards(page);
    expect(shown.map((c) => c.verdict)).to.deep.equal(["verified", "failed", "verified", "verified", "verified"]);
    expect(shown[1].body).to.equal("Ack: the payments team is NOT ready.");
    expect(shown[1].badge).to.equal("✗ failed: BODY_ALTERED");
    expect(await page.textContent("#channel-summary")).to.contain("1 FAILED verification");
    await page.screenshot({ path: path.join(shots, "timeline-altered.png") });
    expect(problems).to.deep.equal([]);
    await page.close();
  });

  it("serves only the built assets: no key, no form, nothing from another origin", async function () {
    const page = await browser.newPage();
    const origins = new Set<string>();
    page.on("request", (request) => origins.add(new URL(request.url()).origin));
    await open(page);
    await page.waitForSelector("#messages .message");
    expect([...origins]).to.deep.equal([address]);
    expect(await page.$$eval("input, textarea, form", (els) => els.length)).to.equal(0);
    const script = await (await fetch(`${address}/ui/timeline.js`)).text();
    for (let i = 0; i < 12; i++) expect(script).not.to.contain(devPrivateKey(i).slice(2)); // no key baked in
    await page.close();
  });
});
