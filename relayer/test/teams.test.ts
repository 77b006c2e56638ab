/**
 * Team subscriptions and delivery confirmation against the real parts: a hardhat node,
 * the relayer, the mirror publishing to the shared Kafka broker, and three teams reading
 * with `tail` (one stopped half-way). Delivery is what the broker's committed offsets
 * say; these tests check the relayer's view equals exactly who has what.
 */
import { expect } from "chai";
import type { Kafka } from "kafkajs";
import { Mirror } from "@chainmail/mirror";
import { silentLogger } from "@chainmail/runtime";
import { channelId, teamGroupId, type ChannelDeliveries, type MessageDeliveries } from "@chainmail/protocol";
import { tail, type TailHandle } from "@chainmail/subscriber";
import { brokerReachable, createChannelWithMembers, kafkaBrokers, testKafka, uniqueTopic, uniqueTopics, waitFor } from "@chainmail/testkit";
import { buildApp, type RelayerApp } from "@chainmail/relayer";
import { startFixture, toJson, type Fixture } from "./fixture.js";
import { runCli } from "./helpers.js";

describe("teams: subscriptions and delivery confirmation (real broker, real chain)", function () {
  let fx: Fixture;
  let app: RelayerApp;
  let mirror: Mirror;
  let mirroring: Promise<unknown>;
  let kafka: Kafka;
  const topics = uniqueTopics("teams");
  const subscriptionsTopic = uniqueTopic("teams.subscriptions");
  const handles: TailHandle[] = [];
  const run = Date.now().toString(36);
  const team = (name: string) => `${name}-${run}`;
  const [alpha, beta, gamma, opsOnly] = ["alpha", "beta", "gamma", "ops-only"].map(team);
  const digests: string[] = [];
  /** What each team's readers delivered to their handler, and the breaks they reported. */
  const seen: Record<string, string[]> = {};
  const breaks: Record<string, string[]> = {};

  before(async function () {
    if (!(await brokerReachable())) throw new Error(`No Kafka broker at ${kafkaBrokers().join(",")}; start one with scripts/kafka/start.sh or set KAFKA_BROKERS.`);
    kafka = testKafka();
    fx = await startFixture();
    await createChannelWithMembers(fx.deployed.registry, "ops", fx.admin, fx.authors.map((a) => a.address));
    app = await buildApp(fx.config({ kafkaBrokers: kafkaBrokers(), messagesTopic: topics.messages, subscriptionsTopic }), { defaultMetrics: false });
    await app.services.teams.ready();
    mirror = new Mirror({ rpcUrl: fx.node.url, registry: fx.deployed.address, brokers: kafkaBrokers(), topics, pollIntervalMs: 100, logger: silentLogger });
    mirroring = mirror.run();
  });

  after(async function () {
    await Promise.allSettled(handles.map((h) => h.stop()));
    mirror?.stop();
    await mirroring;
    await app?.close();
    await fx?.node.stop();
  });

  const general = () => fx.channel;
  const api = async (method: "GET" | "PUT" | "DELETE", url: string, headers: Record<string, string> = {}, remoteAddress?: string) => {
    const response = await app.inject({ method, url, headers, remoteAddress });
    return { status: response.statusCode, json: response.json() };
  };
  const post = async (text: string, channel = general()) => {
    const signed = await fx.sign(fx.authors[0], text, { channel });
    const response = await app.inject({ method: "POST", url: "/v1/messages?wait=true", payload: toJson(signed) });
    expect(response.statusCode, response.body).to.equal(200);
    return response.json().digest as string;
  };
  const deliveredTo = async (digest: string) => {
    const { status, json } = await api("GET", `/v1/messages/${digest}/deliveries`);
    expect(status, JSON.stringify(json)).to.equal(200);
    const answer = json as MessageDeliveries;
    return Object.fromEntries(answer.deliveries.map((d) => [d.team, d.delivered]));
  };
  const channelView = async (channel = general()) => (await api("GET", `/v1/channels/${channel}/deliveries`)).json as ChannelDeliveries;
  /** A team's reader: `tail` with the team's group; stops itself after `stopAfter` messages. */
  const startTeam = async (name: string, stopAfter?: number) => {
    const mine = (seen[name] ??= []);
    const before = mine.length;
    const handle: TailHandle = await tail({
      brokers: kafkaBrokers(), topic: topics.messages, channel: "general", team: name,
      onMessage: (e) => {
        mine.push(e.seq);
        if (stopAfter !== undefined && mine.length - before >= stopAfter) void handle.stop();
      },
      onBreak: (b) => void (breaks[name] ??= []).push(b.kind),
    });
    handles.push(handle);
    return handle;
  };

  it("subscribes teams (idempotently), lists them, and refuses bad input precisely", async function () {
    for (const name of [alpha, beta, gamma]) {
      const created = await api("PUT", `/v1/subscriptions/${name}/${general()}`);
      expect(created.status).to.equal(201);
      expect(created.json.subscription).to.include({ team: name, channel: general(), channelName: "general", group: teamGroupId(name, general()) });
    }
    expect((await api("PUT", `/v1/subscriptions/${alpha}/${general()}`)).status, "again: already subscribed").to.equal(200);
    expect((await api("PUT", `/v1/subscriptions/${opsOnly}/${channelId("ops")}`)).status).to.equal(201);

    const listed = await api("GET", `/v1/subscriptions?channel=${general()}`);
    expect(listed.json.subscriptions.map((s: { team: string }) => s.team).filter((t: string) => t.endsWith(run))).to.deep.equal([alpha, beta, gamma]);

    const badTeam = await api("PUT", `/v1/subscriptions/Bad_Team/${general()}`);
    expect(badTeam.status).to.equal(400);
    expect(badTeam.json.code).to.equal("InvalidRequest");
    const unknown = await api("PUT", `/v1/subscriptions/${alpha}/${channelId("nowhere")}`);
    expect(unknown.status).to.equal(404);
    expect(unknown.json.code).to.equal("UnknownChannel");
    const notSubscribed = await api("DELETE", `/v1/subscriptions/${opsOnly}/${general()}`);
    expect(notSubscribed.status).to.equal(404);
    expect(notSubscribed.json.code).to.equal("NotSubscribed");
    // Someone on another machine may look, not change who receives what.
    const remote = await api("PUT", `/v1/subscriptions/intruder/${general()}`, {}, "10.1.2.3");
    expect(remote.status).to.equal(403);
    expect(remote.json.code).to.equal("Forbidden");
    expect((await api("GET", "/v1/subscriptions", {}, "10.1.2.3")).status).to.equal(200);
    expect((await api("GET", `/v1/subscriptions?team=intruder`)).json.subscriptions).to.deep.equal([]);
  });

  it("a second relayer on the same topics sees the same subscriptions (they live in Kafka)", async function () {
    const other = await buildApp(fx.config({ kafkaBrokers: kafkaBrokers(), messagesTopic: topics.messages, subscriptionsTopic }), { defaultMetrics: false });
    try {
      await other.services.teams.ready();
      const response = await other.inject({ method: "GET", url: "/v1/subscriptions" });
      expect(response.json().subscriptions.map((s: { team: string }) => s.team)).to.deep.equal([alpha, beta, gamma, opsOnly].sort());
    } finally {
      await other.close();
    }
  });

  it("three teams, one stopped half-way: the delivery view shows exactly who has what; the stopped team catches up on resume", async function () {
    for (const text of ["one", "two", "three", "four"]) digests.push(await post(text));
    await post("ops news", channelId("ops"));
    await waitFor("the mirror published the four messages", async () => (await channelView()).kafkaSeq === "4", { timeoutMs: 60_000, intervalMs: 200 });

    // Nobody has read anything yet.
    expect(await deliveredTo(digests[0])).to.deep.equal({ [alpha]: false, [beta]: false, [gamma]: false });

    await startTeam(alpha);
    const stopped = await startTeam(beta, 2);
    await startTeam(gamma);
    await stopped.done;
    const view = async () => Object.fromEntries((await channelView()).teams.map((t) => [t.team, `${t.deliveredSeq}/${t.lag}`]));
    let last: unknown;
    await waitFor("alpha and gamma at seq 4, beta at 2", async () => JSON.stringify((last = await view())) === JSON.stringify({ [alpha]: "4/0", [beta]: "2/2", [gamma]: "4/0" }), { timeoutMs: 30_000, intervalMs: 200 }).catch((error) => {
      throw new Error(`${error.message}; last view ${JSON.stringify(last)}, seen ${JSON.stringify(seen)}, breaks ${JSON.stringify(breaks)}`);
    });
    expect(seen[beta]).to.deep.equal(["1", "2"]);

    for (const [i, digest] of digests.entries()) {
      expect(await deliveredTo(digest), `message ${i + 1}`).to.deep.equal({ [alpha]: true, [beta]: i < 2, [gamma]: true });
    }
    const detail = (await api("GET", `/v1/messages/${digests[3]}/deliveries`)).json as MessageDeliveries;
    expect(detail).to.include({ channel: general(), channelName: "general", seq: "4" });
    expect(detail.kafka).to.include({ topic: topics.messages });
    const betaAt4 = detail.deliveries.find((d) => d.team === beta)!;
    expect(betaAt4.seenDeliveredAt).to.equal(null);
    const alphaAt4 = detail.deliveries.find((d) => d.team === alpha)!;
    expect(Date.parse(alphaAt4.seenDeliveredAt!)).to.be.at.least(Date.parse(detail.kafka!.appendedAt));

    // The metrics say the same, per team and channel.
    const metrics = (await app.inject({ method: "GET", url: "/metrics" })).body;
    expect(metrics).to.include(`chainmail_relayer_delivery_lag_messages{team="${beta}",channel="general"} 2`);
    expect(metrics).to.include(`chainmail_relayer_delivery_lag_messages{team="${alpha}",channel="general"} 0`);
    expect(metrics).to.include(`chainmail_relayer_delivered_seq{team="${gamma}",channel="general"} 4`);
    expect(metrics).to.include(`chainmail_relayer_delivery_lag_messages{team="${opsOnly}",channel="ops"} 1`);

    // beta resumes where its group left off and reaches delivered for all.
    await startTeam(beta);
    await waitFor("beta caught up", async () => (await view())[beta] === "4/0", { timeoutMs: 30_000, intervalMs: 200 });
    expect(seen[beta]).to.deep.equal(["1", "2", "3", "4"]);
    expect(seen[alpha]).to.deep.equal(["1", "2", "3", "4"]);
    expect(breaks).to.deep.equal({});
    for (const digest of digests) expect(await deliveredTo(digest)).to.deep.equal({ [alpha]: true, [beta]: true, [gamma]: true });
  });

  it("a new message is undelivered until each team's reader has verified it", async function () {
    const digest = await post("five");
    await waitFor("the mirror published seq 5", async () => (await channelView()).kafkaSeq === "5", { timeoutMs: 60_000, intervalMs: 200 });
    await waitFor("every running team delivered seq 5", async () => Object.values(await deliveredTo(digest)).every(Boolean), { timeoutMs: 30_000, intervalMs: 200 });
    digests.push(digest);
  });

  it("a forged record in Kafka at the next seq is not the message: it counts for nobody, and the teams do not commit past it", async function () {
    // A record that claims seq 6 of general but carries another digest (as a tampered broker could).
    const producer = kafka.producer();
    await producer.connect();
    const forged = { schema: "chainmail.message-event.v1", channel: general(), seq: "6", digest: "0x" + "ab".repeat(32), head: "0x" + "cd".repeat(32) };
    await producer.send({ topic: topics.messages, messages: [{ key: general(), value: JSON.stringify(forged) }] });
    await producer.disconnect();
    const digest = await post("six, the real one");
    await waitFor("the mirror published the real seq 6", async () => {
      const view = (await api("GET", `/v1/messages/${digest}/deliveries`)).json as MessageDeliveries;
      return view.kafka !== null;
    }, { timeoutMs: 60_000, intervalMs: 200 });
    // Each team's reader names the forgery, reads the real seq 6 after it, and commits nothing past the forgery.
    await waitFor("every team read past the forgery", async () => [alpha, beta, gamma].every((t) => seen[t].includes("6") && (breaks[t] ?? []).length > 0), { timeoutMs: 30_000, intervalMs: 200 });
    expect(breaks[alpha]).to.deep.equal(["KAFKA_MALFORMED"]);
    const answer = (await api("GET", `/v1/messages/${digest}/deliveries`)).json as MessageDeliveries;
    expect(answer.deliveries.map((d) => d.delivered)).to.deep.equal([false, false, false]);
  });

  it("a team removed stops appearing in the views and the metrics", async function () {
    const removed = await api("DELETE", `/v1/subscriptions/${gamma}/${general()}`);
    expect(removed.status).to.equal(200);
    expect(removed.json.subscription.team).to.equal(gamma);
    expect(Object.keys(await deliveredTo(digests[0]))).to.deep.equal([alpha, beta]);
    expect((await channelView()).teams.map((t) => t.team)).to.deep.equal([alpha, beta]);
    const metrics = (await app.inject({ method: "GET", url: "/metrics" })).body;
    expect(metrics).not.to.include(gamma);
    expect((await api("GET", `/v1/subscriptions?team=${gamma}`)).json.subscriptions).to.deep.equal([]);
  });

  it("chainmail deliveries and chainmail subscriptions show the same, with exit codes a script can use", async function () {
    const address = await app.listen({ host: "127.0.0.1", port: 0 });
    const cli = (...args: string[]) => runCli([...args, "--relayer", address]);
    const first = await cli("deliveries", "--digest", digests[0]);
    expect(first.code, first.stderr).to.equal(0);
    expect(first.stdout).to.match(new RegExp(`seq 1 of general, Kafka ${topics.messages.replace(/\./g, "\\.")} partition \\d+ offset \\d+`));
    expect(first.stdout).to.match(new RegExp(`${alpha} +delivered \\(seen by 20`));
    expect(first.stdout).to.match(new RegExp(`${beta} +delivered`));
    const channel = await cli("deliveries", "--channel", "general");
    expect(channel.code, "a team is behind: exit 3").to.equal(3);
    expect(channel.stdout).to.contain("channel general: 6 messages in Kafka");
    expect(channel.stdout).to.match(new RegExp(`${alpha} +delivered up to seq 5, 1 not delivered`));
    const json = JSON.parse((await cli("deliveries", "--digest", digests[0], "--json")).stdout);
    expect(json.deliveries.map((d: { team: string }) => d.team)).to.deep.equal([alpha, beta]);

    const added = await cli("subscriptions", "add", "--team", team("cli"), "--channel", "general");
    expect(added.code, added.stderr).to.equal(0);
    expect(added.stdout).to.contain(`subscribed: ${team("cli")}`);
    expect(added.stdout).to.contain(`npx chainmail tail --team ${team("cli")} --channel general`);
    expect((await cli("subscriptions", "list", "--channel", "general")).stdout).to.contain(`group chainmail.team.${team("cli")}.general`);
    const notYet = await cli("deliveries", "--digest", digests[0]);
    expect(notYet.code, "the new team has nothing yet").to.equal(3);
    expect(notYet.stdout).to.match(new RegExp(`${team("cli")} +NOT delivered`));
    // The new team reads with `chainmail tail --team` (a new group starts at the beginning) and then has it.
    const read = await runCli(["tail", "--team", team("cli"), "--channel", "general", "--topic", topics.messages, "--brokers", kafkaBrokers().join(","), "--registry", fx.deployed.address, "--max-messages", "1"]);
    expect(read.code, read.stderr).to.equal(0);
    expect(read.stdout).to.match(/^#1 .*: one$/m);
    await waitFor("the CLI team's commit", async () => (await cli("deliveries", "--digest", digests[0])).code === 0);
    expect((await cli("subscriptions", "remove", "--team", team("cli"), "--channel", "general")).code).to.equal(0);
    const again = await cli("subscriptions", "remove", "--team", team("cli"), "--channel", "general");
    expect(again.code).to.equal(1);
    expect(again.stderr).to.match(/is not subscribed/);

    const bad = await cli("deliveries", "--digest", "0x12", "--channel", "general");
    expect(bad.code).to.equal(2);
    expect(bad.stderr).to.match(/--digest is "0x12"; it must be 0x followed by 64 hex digits/);
    const neither = await cli("deliveries");
    expect(neither.code).to.equal(2);
    expect(neither.stderr).to.contain("Give either --digest 0xDIGEST or --channel NAME");
    const badTeam = await cli("subscriptions", "add", "--team", "Not A Team", "--channel", "general");
    expect(badTeam.code).to.equal(2);
    expect(badTeam.stderr).to.contain('The team name "Not A Team" is not valid');
  });

  it("answers 404 for a message that is not on-chain, and 503 with a code when the relayer has no Kafka", async function () {
    const unknown = await api("GET", `/v1/messages/0x${"11".repeat(32)}/deliveries`);
    expect(unknown.status).to.equal(404);
    expect(unknown.json.code).to.equal("UnknownMessage");
    const plain = await buildApp(fx.config(), { defaultMetrics: false });
    try {
      const response = await plain.inject({ method: "GET", url: "/v1/subscriptions" });
      expect(response.statusCode).to.equal(503);
      expect(response.json().code).to.equal("DeliveriesDisabled");
    } finally {
      await plain.close();
    }
  });

  it("with a token configured, changing subscriptions needs it (401 without), even from this machine", async function () {
    const token = "t0ken-for-the-teams-test-0123456789";
    const guarded = await buildApp(fx.config({ kafkaBrokers: kafkaBrokers(), messagesTopic: topics.messages, subscriptionsTopic, subscriptionsToken: token }), { defaultMetrics: false });
    try {
      await guarded.services.teams.ready();
      const without = await guarded.inject({ method: "PUT", url: `/v1/subscriptions/${team("delta")}/${general()}` });
      expect(without.statusCode).to.equal(401);
      expect(without.json().code).to.equal("Unauthorized");
      const wrong = await guarded.inject({ method: "PUT", url: `/v1/subscriptions/${team("delta")}/${general()}`, headers: { authorization: `Bearer ${token.replace("t", "x")}` } });
      expect(wrong.statusCode).to.equal(401);
      const remote = await guarded.inject({ method: "PUT", url: `/v1/subscriptions/${team("delta")}/${general()}`, headers: { authorization: `Bearer ${token}` }, remoteAddress: "10.9.8.7" });
      expect(remote.statusCode).to.equal(201);
    } finally {
      await guarded.close();
    }
  });
});
