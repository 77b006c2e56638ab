/**
 * `chainmail tail --channel <name>`: prints a channel's messages from Kafka in seq
 * order, checking digest, signature and head chain as it goes; says loudly (stderr,
 * exit 1) when the chain breaks, unless --keep-going. With --rpc-url, each message is
 * confirmed against the chain, and one the chain does not vouch for is marked
 * UNCONFIRMED (never printed as a plain message).
 */
import { isAddress } from "ethers";
import { bodyToText, channelId, teamNameProblem } from "@chainmail/protocol";
import { tail, type ChainBreak, type Confirmation, type MessageEvent } from "@chainmail/subscriber";
import { ADDRESS, BROKERS, DEFAULT_BROKERS, readCommand, refuse, RPC_URL, type Command } from "../options.js";

const COMMAND: Command = {
  name: "tail",
  synopsis: `Usage: chainmail tail --channel <name|0xid> [options]

Follows one channel's messages from Kafka (read_committed) and checks each one:
digest recomputed from its fields, signature recovered, head chained from the
previous head. A message seen first in mid-stream is trusted as the starting point.
With --rpc-url, each message is also confirmed against the chain: its transaction
receipt must hold the same MessagePosted event, in the same block; a message the chain
does not vouch for is printed marked UNCONFIRMED, with the reason on stderr.`,
  options: {
    channel: { value: "NAME|0xID", default: "(required)", description: "the channel to follow" },
    ...BROKERS,
    "rpc-url": { ...RPC_URL["rpc-url"], default: "none: trust Kafka", description: "confirm each message against this chain's JSON-RPC endpoint" },
    topic: { env: "CHAINMAIL_MESSAGES_TOPIC", value: "NAME", default: "chainmail.messages.v1", description: "the mirror's message topic" },
    group: { value: "ID", default: "a fresh group that starts at new messages", description: "consumer group, one per team; resumes where the group left off" },
    team: { value: "NAME", description: "read as a subscribed team: its group for this channel (chainmail.team.<team>.<channel>), from the beginning the first time; its commits are the team's deliveries" },
    "from-beginning": { type: "boolean", description: "start at the topic's beginning (also for an existing group)" },
    registry: { value: "ADDRESS", default: "any", description: "only this registry's messages" },
    "keep-going": { type: "boolean", description: "report breaks on stderr but keep following (exit 0)" },
    json: { type: "boolean", description: "print each message as its JSON event, with a `confirmation` field, instead of a line of text" },
    "max-messages": { value: "N", description: "stop after N messages" },
  },
  footer: "Exit codes: 0 stopped (Ctrl-C or --max-messages), 1 the chain broke, 2 bad input.",
};

function formatMessage(e: MessageEvent): string {
  const time = new Date(Number(e.timestamp) * 1000).toISOString();
  const printable = e.contentType === 1 || e.contentType === 2;
  const body = printable ? bodyToText(e.body).replace(/\n/g, "\\n") : `${e.contentTypeName} ${e.body}`;
  const reply = e.replyTo !== "0" ? ` (reply to #${e.replyTo})` : "";
  return `#${e.seq} ${time} ${e.author}${reply}: ${body}`;
}

export async function run(argv: string[]): Promise<number> {
  const read = readCommand(COMMAND, argv);
  if (typeof read === "number") return read;
  const channel = read.string("channel");
  if (channel === undefined) read.problem("Give the channel to follow with --channel <name>.");
  else {
    try {
      channelId(channel); // throws a sentence for an empty or too long name
    } catch (error) {
      read.problem((error as Error).message);
    }
  }
  const brokers = read.brokers("brokers", DEFAULT_BROKERS);
  const registry = read.check("registry", isAddress, ADDRESS);
  const rpcUrl = read.url("rpc-url");
  const maxMessages = read.integer("max-messages", { min: 1 });
  const team = read.string("team");
  if (team !== undefined && teamNameProblem(team)) read.problem(teamNameProblem(team)!);
  if (team !== undefined && read.string("group") !== undefined) read.problem("Give --team or --group, not both: a team reads with its own group.");
  if (read.problems.length > 0) return refuse(COMMAND, read.problems);
  const json = read.boolean("json");

  const keepGoing = read.boolean("keep-going");
  let exitCode = 0;
  let shown = 0;
  let over = false;
  let finish!: () => void;
  const finished = new Promise<void>((resolve) => (finish = () => ((over = true), resolve())));
  const onBreak = (problem: ChainBreak) => {
    if (over) return;
    console.error(`CHAIN BROKEN (${problem.kind}) in ${problem.channelName}${problem.seq ? ` at seq ${problem.seq}` : ""}: ${problem.message}`);
    if (!keepGoing) {
      exitCode = 1;
      finish();
    }
  };
  const handle = await tail({
    brokers,
    topic: read.string("topic"),
    channel: channel!,
    groupId: read.string("group"),
    team,
    fromBeginning: read.boolean("from-beginning"),
    registry,
    rpcUrl,
    onMessage: (event, confirmation: Confirmation) => {
      if (over) return;
      const unconfirmed = confirmation.status === "unconfirmed";
      if (unconfirmed) console.error(`UNCONFIRMED: ${confirmation.detail}`);
      // The Kafka event, plus what tail established about it (not part of the Kafka schema).
      console.log(json ? JSON.stringify({ ...event, confirmation }) : `${unconfirmed ? "UNCONFIRMED " : ""}${formatMessage(event)}`);
      shown++;
      if (maxMessages !== undefined && shown >= maxMessages) finish();
    },
    onRetraction: (r) => {
      if (over) return;
      // On stdout with the messages: a reader of this output must drop what it retracts.
      console.log(json ? JSON.stringify(r) : `RETRACTED ${r.channelName} from #${r.fromSeq}: the chain reorganised (blocks ${r.retractedBlocks.map((b) => b.number).join(", ")} replaced); the messages that follow replace them`);
    },
    onBreak,
    onNote: (note) => console.error(`note: ${note}`),
  });
  if (rpcUrl) {
    console.error(`note: confirming each message against the chain at ${rpcUrl} (its transaction receipt must hold the same event${registry ? ` of registry ${registry}` : ""}); messages it does not vouch for are marked UNCONFIRMED.`);
  } else {
    // Nothing here asks the chain: say so, so nobody mistakes a consistent copy for a confirmed one.
    console.error("note: trusting Kafka: each message is checked against the previous ones (digest, signature, head chain), not confirmed against the chain (give --rpc-url to confirm); run `chainmail audit` to prove the record.");
  }
  const onSignal = () => finish();
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  handle.done.then(() => finish());
  await finished;
  process.off("SIGINT", onSignal);
  process.off("SIGTERM", onSignal);
  await handle.stop();
  return exitCode;
}
