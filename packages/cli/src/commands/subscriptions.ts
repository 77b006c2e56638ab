/**
 * `chainmail subscriptions [list|add|remove]`: which teams receive which channels,
 * through a relayer. A team reads a subscribed channel with `chainmail tail --team`.
 */
import { listSubscriptions, subscribeTeam, unsubscribeTeam, type TeamSubscription } from "@chainmail/client";
import { channelId, teamNameProblem } from "@chainmail/protocol";
import { readCommand, refuse, RELAYER_URL, type Command } from "../options.js";

const COMMAND: Command = {
  name: "subscriptions",
  synopsis: `Usage: chainmail subscriptions [list] --relayer URL [--team T] [--channel C] [--json]
       chainmail subscriptions add --relayer URL --team T --channel C
       chainmail subscriptions remove --relayer URL --team T --channel C

Lists, adds or removes teams' subscriptions to channels. A subscribed team reads the
channel with "chainmail tail --team T --channel C"; what that reader has verified and
committed in Kafka is what "chainmail deliveries" reports as delivered.`,
  options: {
    ...RELAYER_URL,
    team: { value: "NAME", description: "team name: lower-case letters, digits and dashes" },
    channel: { value: "NAME|0xID", description: "channel name or 0x-prefixed 32-byte id" },
    token: { env: "CHAINMAIL_SUBSCRIPTIONS_TOKEN", envOnly: true, description: "bearer token, when the relayer requires one to change subscriptions" },
    json: { type: "boolean", description: "print JSON" },
  },
  footer: "Exit codes: 0 done, 1 the relayer refused or could not be reached, 2 bad input.",
};

function line(s: TeamSubscription): string {
  return `${s.team.padEnd(20)} ${s.channelName.padEnd(24)} group ${s.group}  since ${s.subscribedAt}`;
}

export async function run(argv: string[]): Promise<number> {
  const action = argv[0] === "list" || argv[0] === "add" || argv[0] === "remove" ? argv[0] : argv[0] && !argv[0].startsWith("-") ? argv[0] : "list";
  const rest = argv[0] === action ? argv.slice(1) : argv;
  const read = readCommand(COMMAND, rest);
  if (typeof read === "number") return read;
  if (!["list", "add", "remove"].includes(action)) read.problem(`Unknown action "${action}": use list, add or remove.`);
  const relayerUrl = read.required("relayer", "the relayer's base URL, such as http://127.0.0.1:8080");
  read.url("relayer");
  const team = action === "list" ? read.string("team") : read.required("team", "a team name");
  const channel = action === "list" ? read.string("channel") : read.required("channel", "a channel name or 0x-prefixed 32-byte id");
  if (team !== undefined && teamNameProblem(team)) read.problem(teamNameProblem(team)!);
  if (channel !== undefined) {
    try {
      channelId(channel);
    } catch (error) {
      read.problem((error as Error).message);
    }
  }
  if (read.problems.length > 0) return refuse(COMMAND, read.problems);
  const json = read.boolean("json");
  const token = read.string("token");
  try {
    if (action === "add") {
      const { subscription, created } = await subscribeTeam(relayerUrl!, team!, channel!, { token });
      console.log(json ? JSON.stringify({ subscription, created }) : `${created ? "subscribed" : "already subscribed"}: ${line(subscription)}\nread it with: npx chainmail tail --team ${subscription.team} --channel ${channel}`);
    } else if (action === "remove") {
      const subscription = await unsubscribeTeam(relayerUrl!, team!, channel!, { token });
      console.log(json ? JSON.stringify({ subscription }) : `removed: ${line(subscription)}`);
    } else {
      const subscriptions = await listSubscriptions(relayerUrl!, { team, channel });
      if (json) console.log(JSON.stringify({ subscriptions }));
      else if (subscriptions.length === 0) console.log("no subscriptions");
      else for (const s of subscriptions) console.log(line(s));
    }
    return 0;
  } catch (error) {
    console.error(`chainmail subscriptions: ${(error as Error).message}`);
    return 1;
  }
}
