/**
 * `chainmail deliveries --digest D | --channel C`: which subscribed teams have a message,
 * or how far behind each team is in a channel, from the teams' committed offsets in
 * Kafka (read through a relayer).
 */
import { channelDeliveries, messageDeliveries } from "@chainmail/client";
import { channelId } from "@chainmail/protocol";
import { readCommand, refuse, RELAYER_URL, type Command } from "../options.js";

const COMMAND: Command = {
  name: "deliveries",
  synopsis: `Usage: chainmail deliveries --relayer URL (--digest 0xDIGEST | --channel NAME|0xID) [--json]

With --digest: for each team subscribed to the message's channel, whether its reader
has verified and committed past the message in Kafka, and since when (as far as the
relayer saw). With --channel: each team's last delivered seq and how many messages it
has not received yet.`,
  options: {
    ...RELAYER_URL,
    digest: { value: "0xDIGEST", description: "a message's EIP-712 digest (as post prints it)" },
    channel: { value: "NAME|0xID", description: "a channel name or 0x-prefixed 32-byte id" },
    json: { type: "boolean", description: "print the relayer's JSON answer" },
  },
  footer: "Exit codes: 0 every subscribed team has it (or is up to date), 3 some team has not, 1 the relayer refused or could not be reached, 2 bad input.",
};

export async function run(argv: string[]): Promise<number> {
  const read = readCommand(COMMAND, argv);
  if (typeof read === "number") return read;
  const relayerUrl = read.required("relayer", "the relayer's base URL, such as http://127.0.0.1:8080");
  read.url("relayer");
  const digest = read.check("digest", (v) => /^0x[0-9a-fA-F]{64}$/.test(v), "0x followed by 64 hex digits");
  const channel = read.string("channel");
  if ((digest === undefined) === (channel === undefined) && read.problems.length === 0) read.problem("Give either --digest 0xDIGEST or --channel NAME (one of them).");
  if (channel !== undefined) {
    try {
      channelId(channel);
    } catch (error) {
      read.problem((error as Error).message);
    }
  }
  if (read.problems.length > 0) return refuse(COMMAND, read.problems);
  const json = read.boolean("json");
  try {
    if (digest !== undefined) {
      const view = await messageDeliveries(relayerUrl!, digest);
      if (json) console.log(JSON.stringify(view));
      else {
        const where = view.kafka ? `Kafka ${view.kafka.topic} partition ${view.kafka.partition} offset ${view.kafka.offset}` : "not in Kafka yet";
        console.log(`message ${view.digest}\n  seq ${view.seq} of ${view.channelName}, ${where}`);
        if (view.deliveries.length === 0) console.log("  no team subscribes to this channel");
        for (const d of view.deliveries) {
          console.log(`  ${d.team.padEnd(20)} ${d.delivered ? `delivered (seen by ${d.seenDeliveredAt})` : "NOT delivered"}  group ${d.group}`);
        }
      }
      return view.deliveries.every((d) => d.delivered) ? 0 : 3;
    }
    const view = await channelDeliveries(relayerUrl!, channel!);
    if (json) console.log(JSON.stringify(view));
    else {
      console.log(`channel ${view.channelName}: ${view.kafkaSeq} messages in Kafka`);
      if (view.teams.length === 0) console.log("  no team subscribes to this channel");
      for (const t of view.teams) console.log(`  ${t.team.padEnd(20)} delivered up to seq ${t.deliveredSeq}, ${t.lag === 0 ? "up to date" : `${t.lag} not delivered`}  group ${t.group}`);
    }
    return view.teams.every((t) => t.lag === 0) ? 0 : 3;
  } catch (error) {
    console.error(`chainmail deliveries: ${(error as Error).message}`);
    return 1;
  }
}
