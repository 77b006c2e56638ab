/**
 * Team subscriptions and delivery confirmation through the gRPC door, against the real
 * parts: a hardhat node, a listening relayer (its HTTP/2 port), the mirror publishing to
 * the shared Kafka broker, and a team reading with `chainmail tail --team`. The client
 * is the one generated from the proto. The gRPC answers must say what the HTTP API says
 * (one core behind both), with the same authorization rule and the same reasons.
 */
import os from "node:os";
import { expect } from "chai";
import { Code, createClient, type Client } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { Mirror } from "@chainmail/mirror";
import { silentLogger } from "@chainmail/runtime";
import { channelId, teamGroupId, type ChannelDeliveries, type MessageDeliveries } from "@chainmail/protocol";
import { MessageOutcome_Status as Status, RelayerService } from "@chainmail/protocol/grpc";
import { brokerReachable, kafkaBrokers, uniqueTopic, uniqueTopics, waitFor } from "@chainmail/testkit";
import { buildApp, type RelayerApp, type RelayerConfig } from "@chainmail/relayer";
import { startFixture, toJson, type Fixture } from "./fixture.js";
import { refusal, runCli } from "./helpers.js";

type Relayer = Client<typeof RelayerService>;

const clientOf = (url: string): Relayer => createClient(RelayerService, createGrpcTransport({ baseUrl: url }));

/** An address of this machine that is not loopback: a client connecting to it is, for the relayer, on another machine. */
function outsideAddress(): string | undefined {
  return Object.values(os.networkInterfaces())
    .flat()
    .find((i) => i && i.family === "IPv4" && !i.internal)?.address;
}

describe("teams through gRPC: subscriptions and deliveries (real broker, real chain, generated client)", function () {
  let fx: Fixture;
  let app: RelayerApp;
  let client: Relayer;
  let grpcPort: number;
  let httpUrl: string;
  let mirror: Mirror;
  let mirroring: Promise<unknown>;
  const topics = uniqueTopics("teams-grpc");
  const subscriptionsTopic = uniqueTopic("teams-grpc.subscriptions");
  const run = Date.now().toString(36);
  const team = (name: string) => `${name}-${run}`;
  const [reader, idle, removed] = ["reader", "idle", "removed"].map(team);
  const kafkaConfig = (): Partial<RelayerConfig> => ({ kafkaBrokers: kafkaBrokers(), messagesTopic: topics.messages, subscriptionsTopic });
  const general = () => fx.channel;

  before(async function () {
    if (!(await brokerReachable())) throw new Error(`No Kafka broker at ${kafkaBrokers().join(",")}; start one with scripts/kafka/start.sh or set KAFKA_BROKERS.`);
    fx = await startFixture();
    app = await buildApp(fx.config(kafkaConfig()), { defaultMetrics: false });
    await app.services.teams.ready();
    httpUrl = await app.listen({ host: "127.0.0.1", port: 0 });
    // Every interface, so that a test can also come in through a non-loopback address.
    grpcPort = Number(new URL(await app.grpc.listen({ host: "0.0.0.0", port: 0 })).port);
    client = clientOf(`http://127.0.0.1:${grpcPort}`);
    mirror = new Mirror({ rpcUrl: fx.node.url, registry: fx.deployed.address, brokers: kafkaBrokers(), topics, pollIntervalMs: 100, logger: silentLogger });
    mirroring = mirror.run();
  });

  after(async function () {
    mirror?.stop();
    await mirroring;
    await app?.close();
    await fx?.node.stop();
  });

  const teamsOf = async (filter: { team?: string; channel?: string }) => (await client.listSubscriptions(filter)).subscriptions.map((s) => `${s.team}/${s.channelName}`);

  it("subscribes (idempotently), lists with filters and removes a team's subscriptions; the HTTP API sees the same", async function () {
    const first = await client.subscribeTeam({ team: reader, channel: "general" });
    expect(first.created).to.equal(true);
    expect(first.subscription).to.include({ team: reader, channel: general(), channelName: "general", group: teamGroupId(reader, general()) });
    const subscribedAt = timestampDate(first.subscription!.subscribedAt!).getTime();
    expect(Math.abs(subscribedAt - Date.now()), "subscribed_at is now").to.be.below(60_000);

    const again = await client.subscribeTeam({ team: reader, channel: general() });
    expect(again.created, "already subscribed (by id this time)").to.equal(false);
    expect(timestampDate(again.subscription!.subscribedAt!).getTime(), "the first subscription stands").to.equal(subscribedAt);

    expect((await client.subscribeTeam({ team: idle, channel: "general" })).created).to.equal(true);
    expect((await client.subscribeTeam({ team: removed, channel: "general" })).created).to.equal(true);

    expect(await teamsOf({ channel: "general" })).to.deep.equal([idle, reader, removed].map((t) => `${t}/general`));
    expect(await teamsOf({ team: reader })).to.deep.equal([`${reader}/general`]);
    const overHttp = (await app.inject({ method: "GET", url: `/v1/subscriptions?channel=${general()}` })).json();
    expect(overHttp.subscriptions.map((s: { team: string; subscribedAt: string }) => s.team)).to.deep.equal([idle, reader, removed]);
    expect(Date.parse(overHttp.subscriptions[1].subscribedAt)).to.equal(subscribedAt);

    const gone = await client.unsubscribeTeam({ team: removed, channel: "general" });
    expect(gone.subscription).to.include({ team: removed, channel: general() });
    expect(await teamsOf({ channel: "general" })).to.deep.equal([idle, reader].map((t) => `${t}/general`));
    const twice = await refusal(client.unsubscribeTeam({ team: removed, channel: "general" }));
    expect(twice).to.include({ code: Code.NotFound, reason: "NotSubscribed" });
    expect(twice.message).to.equal(`Team ${removed} is not subscribed to ${general()}.`);
  });

  it("deliveries of a message for two teams, one of which has read it with chainmail tail --team", async function () {
    const signed = await fx.sign(fx.authors[0], "for the teams, over gRPC");
    const { outcome } = await client.postMessage({ message: toJson(signed), wait: true });
    expect(outcome?.status).to.equal(Status.CONFIRMED);
    const digest = outcome!.digest;
    await waitFor("the mirror published the message", async () => (await client.getChannelDeliveries({ channel: "general" })).kafkaSeq === outcome!.seq, { timeoutMs: 60_000, intervalMs: 200 });

    // Nobody has read it yet: both subscribed teams have it undelivered, without a commit.
    const before = await client.getMessageDeliveries({ digest });
    expect(before).to.include({ digest, channel: general(), channelName: "general", seq: outcome!.seq });
    expect(before.kafka?.topic).to.equal(topics.messages);
    expect(before.deliveries.map((d) => [d.team, d.delivered, d.committedOffset, d.seenDeliveredAt])).to.deep.equal([
      [idle, false, undefined, undefined],
      [reader, false, undefined, undefined],
    ]);

    // The reader team reads it as a user would, with the team's group, and commits after checking it.
    const read = await runCli(["tail", "--team", reader, "--channel", "general", "--topic", topics.messages, "--brokers", kafkaBrokers().join(","), "--registry", fx.deployed.address, "--max-messages", "1"]);
    expect(read.code, read.stderr).to.equal(0);
    expect(read.stdout).to.match(/^#1 .*: for the teams, over gRPC$/m);

    const after = await waitFor("the reader's commit is seen", async () => {
      const answer = await client.getMessageDeliveries({ digest });
      return answer.deliveries.find((d) => d.team === reader)?.delivered ? answer : undefined;
    }, { timeoutMs: 30_000, intervalMs: 200 });
    const [idleView, readerView] = after.deliveries;
    expect(idleView).to.include({ team: idle, group: teamGroupId(idle, general()), delivered: false });
    expect([idleView.committedOffset, idleView.seenDeliveredAt], "no commit, not delivered").to.deep.equal([undefined, undefined]);
    expect(readerView).to.include({ team: reader, group: teamGroupId(reader, general()), delivered: true });
    expect(readerView.committedOffset! > after.kafka!.offset, "committed past the message's record").to.equal(true);
    expect(timestampDate(readerView.seenDeliveredAt!).getTime()).to.be.at.least(timestampDate(after.kafka!.appendedAt!).getTime());

    // Per team in the channel: the reader is at seq 1 with nothing behind, the idle team has all of it to read.
    const lag = await client.getChannelDeliveries({ channel: general() });
    expect(lag).to.include({ channel: general(), channelName: "general", kafkaSeq: 1n });
    expect(lag.teams.map((t) => [t.team, t.deliveredSeq, t.lag, t.committedOffset === undefined])).to.deep.equal([
      [idle, 0n, 1n, true],
      [reader, 1n, 0n, false],
    ]);

    // One core behind both doors: the HTTP API tells the same story.
    const http = (await app.inject({ method: "GET", url: `/v1/messages/${digest}/deliveries` })).json() as MessageDeliveries;
    expect(http.kafka).to.include({ partition: after.kafka!.partition, offset: after.kafka!.offset.toString() });
    expect(http.deliveries.map((d) => [d.team, d.delivered, d.committedOffset])).to.deep.equal(after.deliveries.map((d) => [d.team, d.delivered, d.committedOffset?.toString() ?? null]));
    const httpLag = (await app.inject({ method: "GET", url: `/v1/channels/${general()}/deliveries` })).json() as ChannelDeliveries;
    expect(httpLag.teams.map((t) => [t.team, t.deliveredSeq, t.lag])).to.deep.equal(lag.teams.map((t) => [t.team, t.deliveredSeq.toString(), Number(t.lag)]));
  });

  it("refuses bad input (INVALID_ARGUMENT) and unknown things (NOT_FOUND) with HTTP's codes, and changes nothing", async function () {
    const listed = await teamsOf({});
    const cases: Array<[string, () => Promise<unknown>, Code, string, RegExp]> = [
      ["team name", () => client.subscribeTeam({ team: "Bad_Team", channel: "general" }), Code.InvalidArgument, "InvalidRequest", /^team: The team name "Bad_Team" is not valid/],
      ["empty team", () => client.unsubscribeTeam({ team: "", channel: "general" }), Code.InvalidArgument, "InvalidRequest", /^team: /],
      ["channel too long", () => client.subscribeTeam({ team: reader, channel: "x".repeat(40) }), Code.InvalidArgument, "InvalidRequest", /^channel /],
      ["list filter", () => client.listSubscriptions({ team: "Not A Team" }), Code.InvalidArgument, "InvalidRequest", /^team: /],
      ["unknown channel", () => client.subscribeTeam({ team: team("late"), channel: "nowhere" }), Code.NotFound, "UnknownChannel", new RegExp(`^No channel ${channelId("nowhere")}\\.$`)],
      ["lag of an unknown channel", () => client.getChannelDeliveries({ channel: "nowhere" }), Code.NotFound, "UnknownChannel", /^No channel /],
      ["not subscribed", () => client.unsubscribeTeam({ team: team("never"), channel: "general" }), Code.NotFound, "NotSubscribed", /is not subscribed to/],
      ["malformed digest", () => client.getMessageDeliveries({ digest: "0x12" }), Code.InvalidArgument, "InvalidRequest", /^digest is not 32 bytes/],
      ["unknown digest", () => client.getMessageDeliveries({ digest: `0x${"11".repeat(32)}` }), Code.NotFound, "UnknownMessage", /the relayer knows no such message/],
    ];
    for (const [what, call, code, reason, message] of cases) {
      const e = await refusal(call());
      expect([Code[e.code], e.reason], what).to.deep.equal([Code[code], reason]);
      expect(e.message, what).to.match(message);
    }
    expect(await teamsOf({}), "nothing changed").to.deep.equal(listed);
  });

  it("changing subscriptions from another machine: PERMISSION_DENIED (Forbidden); reading is open to it", async function () {
    const address = outsideAddress();
    if (!address) throw new Error("This machine has no non-loopback IPv4 address to come in from another machine's side.");
    const outsider = clientOf(`http://${address}:${grpcPort}`);
    const refused = await refusal(outsider.subscribeTeam({ team: team("intruder"), channel: "general" }));
    expect(refused).to.include({ code: Code.PermissionDenied, reason: "Forbidden" });
    expect(refused.message).to.match(/only from this machine unless the relayer has CHAINMAIL_SUBSCRIPTIONS_TOKEN/);
    expect((await refusal(outsider.unsubscribeTeam({ team: reader, channel: "general" }))).code).to.equal(Code.PermissionDenied);
    expect(await teamsOf({ channel: "general" }), "nothing changed").to.deep.equal([idle, reader].map((t) => `${t}/general`));
    expect((await outsider.listSubscriptions({ team: reader })).subscriptions).to.have.length(1);
  });

  it("with a token configured: UNAUTHENTICATED without it or with a wrong one, even from this machine; accepted with it from anywhere", async function () {
    const token = "t0ken-for-the-teams-grpc-test-0123456789";
    const guarded = await buildApp(fx.config({ ...kafkaConfig(), subscriptionsToken: token }), { defaultMetrics: false });
    try {
      await guarded.services.teams.ready();
      const port = Number(new URL(await guarded.grpc.listen({ host: "0.0.0.0", port: 0 })).port);
      const local = clientOf(`http://127.0.0.1:${port}`);
      const delta = team("delta");
      const without = await refusal(local.subscribeTeam({ team: delta, channel: "general" }));
      expect(without).to.include({ code: Code.Unauthenticated, reason: "Unauthorized" });
      expect(without.message).to.contain("Authorization: Bearer");
      const wrong = await refusal(local.subscribeTeam({ team: delta, channel: "general" }, { headers: { authorization: `Bearer ${token.replace("t", "x")}` } }));
      expect(wrong).to.include({ code: Code.Unauthenticated, reason: "Unauthorized" });
      expect((await refusal(local.unsubscribeTeam({ team: reader, channel: "general" }))).code).to.equal(Code.Unauthenticated);
      expect((await local.listSubscriptions({ team: delta })).subscriptions, "nothing changed").to.deep.equal([]);

      const address = outsideAddress() ?? "127.0.0.1";
      const remote = clientOf(`http://${address}:${port}`);
      const headers = { authorization: `Bearer ${token}` };
      expect((await remote.subscribeTeam({ team: delta, channel: "general" }, { headers })).created).to.equal(true);
      expect((await remote.unsubscribeTeam({ team: delta, channel: "general" }, { headers })).subscription?.team).to.equal(delta);
    } finally {
      await guarded.close();
    }
  });

  it("a relayer without Kafka: UNAVAILABLE (DeliveriesDisabled) for every subscription and delivery method", async function () {
    const plain = await buildApp(fx.config(), { defaultMetrics: false });
    try {
      const noKafka = clientOf(await plain.grpc.listen({ host: "127.0.0.1", port: 0 }));
      const calls: Array<[string, () => Promise<unknown>]> = [
        ["SubscribeTeam", () => noKafka.subscribeTeam({ team: reader, channel: "general" })],
        ["UnsubscribeTeam", () => noKafka.unsubscribeTeam({ team: reader, channel: "general" })],
        ["ListSubscriptions", () => noKafka.listSubscriptions({})],
        ["GetMessageDeliveries", () => noKafka.getMessageDeliveries({ digest: `0x${"11".repeat(32)}` })],
        ["GetChannelDeliveries", () => noKafka.getChannelDeliveries({ channel: "general" })],
      ];
      for (const [method, call] of calls) {
        const e = await refusal(call());
        expect([Code[e.code], e.reason], method).to.deep.equal(["Unavailable", "DeliveriesDisabled"]);
        expect(e.message, method).to.match(/no Kafka brokers configured/);
      }
    } finally {
      await plain.close();
    }
  });

  it("counts the new methods per method and status in /metrics", async function () {
    const metrics = await (await fetch(`${httpUrl}/metrics`)).text();
    const count = (method: string, code: string) => Number(new RegExp(`chainmail_relayer_grpc_requests_total\\{method="chainmail\\.v1\\.RelayerService/${method}",code="${code}"\\} (\\d+)`).exec(metrics)?.[1] ?? 0);
    expect(count("SubscribeTeam", "OK"), "SubscribeTeam OK").to.equal(4);
    expect(count("SubscribeTeam", "PermissionDenied")).to.equal(1);
    expect(count("UnsubscribeTeam", "NotFound")).to.equal(2);
    expect(count("GetMessageDeliveries", "OK")).to.be.at.least(2);
    expect(count("GetChannelDeliveries", "NotFound")).to.equal(1);
    expect(count("ListSubscriptions", "InvalidArgument")).to.equal(1);
  });
});
