/** `chainmail messages`: list a channel's messages through a relayer. */
import { parseArgs } from "node:util";
import { listChannel } from "@chainmail/client";
import { channelId, channelName } from "@chainmail/protocol";

const USAGE = `Usage: chainmail messages --relayer URL --channel NAME|ID [--from-seq N] [--limit N] [--json]

Lists a channel's messages in seq order, read from the registry's events.

Options:
  --relayer URL      relayer base URL (or env CHAINMAIL_RELAYER)
  --channel NAME|ID  channel name or 0x-prefixed 32-byte id
  --from-seq N       first seq to show [1]
  --limit N          how many messages, 1 to 200 [50]
  --json             print the page as JSON
  -h, --help         this text`;

function fail(message: string): number {
  console.error(`chainmail messages: ${message}`);
  return 2;
}

export async function run(argv: string[]): Promise<number> {
  let values;
  try {
    values = parseArgs({
      args: argv,
      strict: true,
      options: {
        relayer: { type: "string" },
        channel: { type: "string" },
        "from-seq": { type: "string" },
        limit: { type: "string" },
        json: { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
    }).values;
  } catch (error) {
    return fail((error as Error).message);
  }
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const relayerUrl = values.relayer ?? process.env.CHAINMAIL_RELAYER;
  if (!relayerUrl) return fail("Give the relayer's URL with --relayer URL.");
  if (!values.channel) return fail("Give the channel with --channel NAME.");
  const fromSeq = Number(values["from-seq"] ?? 1);
  const limit = Number(values.limit ?? 50);
  if (!Number.isSafeInteger(fromSeq) || fromSeq < 1) return fail("--from-seq must be a whole number from 1.");
  if (!Number.isInteger(limit) || limit < 1 || limit > 200) return fail("--limit must be a whole number from 1 to 200.");
  try {
    channelId(values.channel);
  } catch (error) {
    return fail((error as Error).message);
  }
  try {
    const page = await listChannel(relayerUrl, values.channel, { fromSeq, limit });
    if (values.json) {
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
