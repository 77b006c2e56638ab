/**
 * `chainmail post`: sign a message with the author's key and post it through a
 * relayer, retrying the same signed message until the relayer gives an answer that
 * settles it (with --wait: until it is confirmed or rejected on-chain).
 */
import { NoOutcomeError, postMessage, type PostResult } from "@chainmail/client";
import { channelName } from "@chainmail/protocol";
import { AUTHORED_MESSAGE, readAuthoredMessage, readCommand, refuse, RELAYER_URLS, type Command } from "../options.js";

const COMMAND: Command = {
  name: "post",
  synopsis: `Usage: chainmail post --relayer URL[,URL...] --channel NAME|ID (--text TEXT | --body 0xHEX) [options]

Signs a message as its author (key from --key-file or env CHAINMAIL_KEY) and posts it.
With several relayers, a network error or a 5xx moves it to the next one.`,
  options: {
    ...RELAYER_URLS,
    ...AUTHORED_MESSAGE,
    wait: { type: "boolean", description: "wait until the message is confirmed or rejected on-chain" },
    timeout: { value: "SECONDS", default: "120", description: "give up after this long without a definitive outcome" },
    json: { type: "boolean", description: "print the outcome as JSON" },
  },
  footer: "Exit status: 0 posted or accepted, 1 rejected or failed, 2 wrong input, 3 no definitive outcome in time.",
};

export function describe(result: PostResult): string {
  if (result.status === "confirmed") {
    return `confirmed: seq ${result.seq} in channel ${channelName(result.channel)}\n  digest ${result.digest}\n  head   ${result.head}\n  tx     ${result.transactionHash} (block ${result.blockNumber})`;
  }
  if (result.status === "pending") {
    return `accepted (persisted by the relayer, not yet on-chain): digest ${result.digest}\n  follow it with GET ${result.statusUrl}, or post with --wait`;
  }
  return `rejected: ${result.code}: ${result.message}\n  digest ${result.digest}`;
}

export async function run(argv: string[]): Promise<number> {
  const read = readCommand(COMMAND, argv);
  if (typeof read === "number") return read;
  const input = readAuthoredMessage(read);
  const timeoutSeconds = read.integer("timeout") ?? 120;
  if (!input || read.problems.length > 0) return refuse(COMMAND, read.problems);
  const json = read.boolean("json");
  try {
    const result = await postMessage(
      input,
      {
        wait: read.boolean("wait"),
        retry: { timeoutMs: timeoutSeconds * 1000 },
        onRetry: (attempt, reason) => {
          if (!json) console.error(`retry ${attempt}: ${reason}`);
        },
      },
    );
    console.log(json ? JSON.stringify(result) : describe(result));
    return result.status === "rejected" ? 1 : 0;
  } catch (error) {
    console.error(`chainmail post: ${(error as Error).message}`);
    return error instanceof NoOutcomeError ? 3 : 1;
  }
}
