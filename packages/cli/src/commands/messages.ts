/** `chainmail messages`: list a channel's messages through a relayer. */
import { listChannel } from "@chainmail/client";
import { channelId, channelName } from "@chainmail/protocol";
import { readCommand, refuse, RELAYER_URL, type Command } from "../options.js";

const COMMAND: Command = {
  name: "messages",
  synopsis: `Usage: chainmail messages --relayer URL --channel NAME|ID [--from-seq N] [--limit N] [--json]

Lists a channel's messages in seq order, read from the registry's events.`,
  options: {
    ...RELAYER_URL,
    channel: { value: "NAME|ID", description: "channel name or 0x-prefixed 32-byte id" },
    "from-seq": { value: "N", default: "1", description: "first seq to show" },
    limit: { value: "N", default: "50", description: "how many messages, 1 to 200" },
    json: { type: "boolean", description: "print the page as JSON" },
  },
};

export async function run(argv: string[]): Promise<number> {
  const read = readCommand(COMMAND, argv);
  if (typeof read === "number") return read;
  const relayerUrl = read.required("relayer", "the relayer's base URL, such as http://127.0.0.1:8080");
  read.url("relayer");
  const channel = read.required("channel", "a channel name or 0x-prefixed 32-byte id");
  if (channel !== undefined) {
    try {
      channelId(channel);
    } catch (error) {
      read.problem((error as Error).message);
    }
  }
  const fromSeq = read.integer("from-seq", { min: 1 }) ?? 1;
  const limit = read.integer("limit", { min: 1, max: 200 }) ?? 50;
  if (read.problems.length > 0) return refuse(COMMAND, read.problems);
  const json = read.boolean("json");
  try {
    const page = await listChannel(relayerUrl!, channel!, { fromSeq, limit });
    if (json) {
      console.log(JSON.stringify(page));
      return 0;
    }
    console.log(`channel ${channelName(page.channel)} (${page.seq} messages)`);
    for (const m of page.messages) {
      const when = new Date(Number(m.timestamp) * 1000).toISOString();
      const content = m.text !== undefined ? m.text : `<${m.contentTypeName}, ${(m.body.length - 2) / 2} bytes>`;
      const reply = m.replyTo !== "0" ? ` (reply to ${m.replyTo})` : "";
      console.log(`#${m.seq} ${when} ${m.author}${reply}: ${content}`);
    }
    if (page.nextFromSeq !== null) console.log(`more: --from-seq ${page.nextFromSeq}`);
    return 0;
  } catch (error) {
    console.error(`chainmail messages: ${(error as Error).message}`);
    return 1;
  }
}
