/**
 * `chainmail tail --channel <name>`: prints a channel's messages from Kafka in seq
 * order, checking digest, signature and head chain as it goes; says loudly (stderr,
 * exit 1) when the chain breaks, unless --keep-going.
 */
import { parseArgs } from "node:util";
import { isAddress } from "ethers";
import { bodyToText, channelId } from "@chainmail/protocol";
import { tail, type ChainBreak, type MessageEvent } from "@chainmail/subscriber";

const USAGE = `Usage: chainmail tail --channel <name|0xid> [options]

Follows one channel's messages from Kafka (read_committed) and checks each one:
digest recomputed from its fields, signature recovered, head chained from the
previous head. A message seen first in mid-stream is trusted as the starting point.

Options (flag, environment variable, default):
  --channel <name|0xid>      (required)
  --brokers <host:port,...>  KAFKA_BROKERS              127.0.0.1:9092
  --topic <name>             CHAINMAIL_MESSAGES_TOPIC   chainmail.messages.v1
  --group <id>               consumer group, one per team; resumes where the group left off
                             (default: a fresh group that starts at new messages)
  --from-beginning           start at the topic's beginning (also for an existing group)
  --registry <address>       only this registry's messages (default: any)
  --keep-going               report breaks on stderr but keep following (exit 0)
  --json                     print each message as its JSON event instead of a line of text
  --max-messages <n>         stop after n messages
  --help

Exit codes: 0 stopped (Ctrl-C or --max-messages), 1 the chain broke, 2 bad input.`;

class InputError extends Error {}

function formatMessage(e: MessageEvent): string {
  const time = new Date(Number(e.timestamp) * 1000).toISOString();
  const printable = e.contentType === 1 || e.contentType === 2;
  const body = printable ? bodyToText(e.body).replace(/\n/g, "\\n") : `${e.contentTypeName} ${e.body}`;
  const reply = e.replyTo !== "0" ? ` (reply to #${e.replyTo})` : "";
  return `#${e.seq} ${time} ${e.author}${reply}: ${body}`;
}

export async function run(argv: string[]): Promise<number> {
  let v;
  let brokers: string[];
  let maxMessages: number | undefined;
  try {
    ({ values: v } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        channel: { type: "string" },
        brokers: { type: "string" },
        topic: { type: "string" },
        group: { type: "string" },
        "from-beginning": { type: "boolean" },
        registry: { type: "string" },
        "keep-going": { type: "boolean" },
        json: { type: "boolean" },
        "max-messages": { type: "string" },
        help: { type: "boolean" },
      },
    }));
    if (v.help) {
      console.log(USAGE);
      return 0;
    }
    if (!v.channel) throw new InputError("Give the channel to follow with --channel <name>.");
    channelId(v.channel); // throws a sentence for an empty or too long name
    brokers = (v.brokers ?? process.env.KAFKA_BROKERS ?? "127.0.0.1:9092").split(",").map((b) => b.trim()).filter(Boolean);
    if (brokers.length === 0 || brokers.some((b) => !/^[^:\s]+:\d+$/.test(b))) {
      throw new InputError(`--brokers must be a comma-separated list of host:port, not "${v.brokers ?? process.env.KAFKA_BROKERS}".`);
    }
    if (v.registry && !isAddress(v.registry)) throw new InputError(`--registry "${v.registry}" is not an Ethereum address.`);
    if (v["max-messages"] !== undefined) {
      if (!/^[1-9]\d*$/.test(v["max-messages"])) throw new InputError(`--max-messages must be a positive whole number, not "${v["max-messages"]}".`);
      maxMessages = Number(v["max-messages"]);
    }
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (error instanceof InputError || code?.startsWith("ERR_PARSE_ARGS") || /channel name/i.test((error as Error).message)) {
      console.error(`chainmail tail: ${(error as Error).message}`);
      return 2;
    }
    throw error;
  }

  const keepGoing = v["keep-going"] ?? false;
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
    topic: v.topic ?? process.env.CHAINMAIL_MESSAGES_TOPIC,
    channel: v.channel,
    groupId: v.group,
    fromBeginning: v["from-beginning"] ?? false,
    registry: v.registry,
    onMessage: (event) => {
      if (over) return;
      console.log(v.json ? JSON.stringify(event) : formatMessage(event));
      shown++;
      if (maxMessages !== undefined && shown >= maxMessages) finish();
    },
    onBreak,
    onNote: (note) => console.error(`note: ${note}`),
  });
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
