/**
 * `chainmail post`: sign a message with the author's key and post it through a
 * relayer, retrying the same signed message until the relayer gives an answer that
 * settles it (with --wait: until it is confirmed or rejected on-chain).
 */
import { Wallet } from "ethers";
import { NoOutcomeError, postMessage, type PostResult } from "@chainmail/client";
import { channelId, channelName, contentTypeCode } from "@chainmail/protocol";
import { readCommand, readKey, refuse, RELAYER_URL, type Command } from "../options.js";

const COMMAND: Command = {
  name: "post",
  synopsis: `Usage: chainmail post --relayer URL --channel NAME|ID (--text TEXT | --body 0xHEX) [options]

Signs a message as its author (key from --key-file or env CHAINMAIL_KEY) and posts it.`,
  options: {
    ...RELAYER_URL,
    "key-file": { value: "FILE", description: "file holding the author's 0x-prefixed private key" },
    // The key itself only from the environment: a flag would show it to anyone who lists processes.
    key: { env: "CHAINMAIL_KEY", envOnly: true, description: "the author's private key, when no --key-file is given" },
    channel: { value: "NAME|ID", description: "channel name (up to 31 bytes) or 0x-prefixed 32-byte id" },
    text: { value: "TEXT", description: "the message as text (content type text/plain)" },
    body: { value: "0xHEX", description: "the message as raw bytes instead of --text" },
    "content-type": { value: "TYPE", description: "text/plain, application/json, application/octet-stream or a number" },
    "reply-to": { value: "N", description: "the seq this message replies to" },
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
    return `accepted (not yet on-chain; a relayer restart can lose it): digest ${result.digest}\n  follow it with GET ${result.statusUrl}, or post with --wait`;
  }
  return `rejected: ${result.code}: ${result.message}\n  digest ${result.digest}`;
}

export async function run(argv: string[]): Promise<number> {
  const read = readCommand(COMMAND, argv);
  if (typeof read === "number") return read;
  const relayerUrl = read.required("relayer", "the relayer's base URL, such as http://127.0.0.1:8080");
  read.url("relayer");
  const channel = read.required("channel", "a channel name or 0x-prefixed 32-byte id");
  const text = read.string("text");
  const body = read.check("body", (v) => /^0x([0-9a-fA-F]{2})+$/.test(v), "0x followed by an even number of hex digits");
  if (read.has("text") === read.has("body")) read.problem("Give exactly one of --text and --body.");
  const replyTo = read.check("reply-to", (v) => /^\d+$/.test(v), "a whole number (a seq in the channel)");
  const timeoutSeconds = read.integer("timeout") ?? 120;
  const contentType = read.string("content-type");
  let key: string | undefined;
  for (const check of [
    () => channel !== undefined && channelId(channel),
    () => contentType !== undefined && contentTypeCode(contentType),
    () => (key = readKey(read.string("key-file"), read.string("key"))),
  ]) {
    try {
      check();
    } catch (error) {
      read.problem((error as Error).message);
    }
  }
  if (read.problems.length > 0) return refuse(COMMAND, read.problems);
  const json = read.boolean("json");
  try {
    const result = await postMessage(
      {
        relayerUrl: relayerUrl!,
        signer: new Wallet(key!),
        channel: channel!,
        text,
        body,
        contentType,
        replyTo: replyTo !== undefined ? BigInt(replyTo) : undefined,
      },
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
