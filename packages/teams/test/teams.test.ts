/** The teams core on its own against the real broker: subscriptions live in Kafka, survive a restart, and a tombstone removes one. */
import { expect } from "chai";
import { channelId, teamGroupId } from "@chainmail/protocol";
import { TeamDeliveries } from "@chainmail/teams";
import { brokerReachable, kafkaBrokers, uniqueTopic } from "@chainmail/testkit";

describe("teams core (real broker)", function () {
  before(async function () {
    if (!(await brokerReachable())) throw new Error(`No Kafka broker at ${kafkaBrokers().join(",")}; start one with scripts/kafka/start.sh or set KAFKA_BROKERS.`);
  });

  it("keeps subscriptions in a compacted topic: a new instance reads them back, a removal is gone for it too", async function () {
    const options = { brokers: kafkaBrokers(), subscriptionsTopic: uniqueTopic("teams.subs"), messagesTopic: uniqueTopic("teams.none") };
    const general = channelId("general");
    const first = await TeamDeliveries.start(options);
    try {
      const { subscription, created } = await first.subscribe("red", general);
      expect(created).to.equal(true);
      expect(subscription).to.include({ team: "red", channel: general, channelName: "general", group: teamGroupId("red", general) });
      expect((await first.subscribe("red", general)).created).to.equal(false);
      await first.subscribe("blue", general);
      expect(await first.unsubscribe("blue", general)).to.equal(true);
      expect(await first.unsubscribe("blue", general)).to.equal(false);
    } finally {
      await first.close();
    }
    const second = await TeamDeliveries.start(options);
    try {
      expect(second.subscriptions().map((s) => s.team)).to.deep.equal(["red"]);
      // The mirror's topic does not exist here: the views are empty, not an error.
      expect(await second.channelDeliveries(general)).to.deep.equal({
        channel: general, channelName: "general", kafkaSeq: "0",
        teams: [{ team: "red", group: teamGroupId("red", general), deliveredSeq: "0", lag: 0, committedOffset: null }],
      });
    } finally {
      await second.close();
    }
  });

  it("refuses a team name that is not lower-case letters, digits and dashes, writing nothing", async function () {
    const teams = await TeamDeliveries.start({ brokers: kafkaBrokers(), subscriptionsTopic: uniqueTopic("teams.subs"), messagesTopic: uniqueTopic("teams.none") });
    try {
      for (const bad of ["", "Red", "red team", "-red", "a".repeat(64), "red/../x"]) {
        await teams.subscribe(bad, channelId("general")).then(
          () => expect.fail(`accepted ${JSON.stringify(bad)}`),
          (error: Error & { code?: string }) => expect(error.code).to.equal("InvalidTeam"),
        );
      }
      expect(teams.subscriptions()).to.deep.equal([]);
    } finally {
      await teams.close();
    }
  });
});
