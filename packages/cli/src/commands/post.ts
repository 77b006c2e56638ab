/**
 * `chainmail post`: sign a message with the author's key and post it through a
 * relayer, retrying the same signed message until the relayer gives an answer that
 * settles it (with --wait: until it is confirmed or rejected on-chain).
 */
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { Wallet } from "ethers";
import { NoOutcomeError, postMessage, type PostResult } from "@chainmail/client";
import { channelId, channelName, contentTypeCode } from "@chainmail/protocol";

const USAGE = `Usage: chainmail post --relayer URL --channel NAME|ID (--text TEXT | --body 0xHEX) [options]

Signs a message as its author (key from --key-file or env CHAINMAIL_KEY) and posts it.

Options:
  --relayer URL         relayer base URL, e.g. http://127.0.0.1:8080 (or env CHAINMAIL_RELAYER)
  --key-file FILE       file holding the author's 0x-prefixed private key
  --channel NAME|ID     channel name (up to 31 bytes) or 0x-prefixed 32-byte id
  --text TEXT           the message as text (content type text/plain)
  --body 0xHEX          the message as raw bytes instead of --text
  --content-type TYPE   text/plain, application/json, application/octet-stream or a number
  --reply-to N          the seq this message replies to
  --wait                wait until the message is confirmed or rejected on-chain
  --timeout SECONDS     give up after this long without a definitive outcome [120]
  --json                print the outcome as JSON
  -h, --help            this text`;

function fail(message: string): number {
  console.error(`chainmail post: ${message}`);
  return 2;
}

function readKey(keyFile: string | undefined): string {
  const raw = keyFile ? readFileSync(keyFile, "utf8") : process.env.CHAINMAIL_KEY;
  if (raw === undefined) throw new Error("Give the author's key with --key-file FILE or the environment variable CHAINMAIL_KEY.");
  const key = raw.trim();
  if (!/^(0x)?[0-9a-fA-F]{64}$/.test(key)) {
    throw new Error(keyFile ? `${keyFile} does not hold a 32-byte hex private key.` : "CHAINMAIL_KEY is not a 32-byte hex private key.");
  }
  return key.startsWith("0x") ? key : `0x${key}`;
}

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
  let values;
  try {
    values = parseArgs({
      args: argv,
      strict: true,
      options: {
        relayer: { type: "string" },
        "key-file": { type: "string" },
        channel: { type: "string" },
        text: { type: "string" },
        body: { type: "string" },
        "content-type": { type: "string" },
        "reply-to": { type: "string" },
        wait: { type: "boolean" },
        timeout: { type: "string" },
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
  if (!/^https?:\/\/\S+$/.test(relayerUrl)) return fail(`--relayer "${relayerUrl}" is not an http(s) URL.`);
  if (!values.channel) return fail("Give the channel with --channel NAME.");
  if ((values.text === undefined) === (values.body === undefined)) return fail("Give exactly one of --text and --body.");
  if (values.body !== undefined && !/^0x([0-9a-fA-F]{2})+$/.test(values.body)) return fail("--body must be 0x followed by an even number of hex digits.");
  if (values["reply-to"] !== undefined && !/^\d+$/.test(values["reply-to"])) return fail("--reply-to must be a whole number (a seq in the channel).");
  if (values.timeout !== undefined && !/^\d+$/.test(values.timeout)) return fail("--timeout must be a whole number of seconds.");
  let key: string;
  try {
    channelId(values.channel);
    if (values["content-type"] !== undefined) contentTypeCode(values["content-type"]);
    key = readKey(values["key-file"]);
  } catch (error) {
    return fail((error as Error).message);
  }
  try {
    const result = await postMessage(
      {
        relayerUrl,
        signer: new Wallet(key),
        channel: values.channel,
        text: values.text,
        body: values.body,
        contentType: values["content-type"],
        replyTo: values["reply-to"] !== undefined ? BigInt(values["reply-to"]) : undefined,
      },
      {
        wait: Boolean(values.wait),
        retry: { timeoutMs: Number(values.timeout ?? 120) * 1000 },
        onRetry: (attempt, reason) => {
          if (!values.json) console.error(`retry ${attempt}: ${reason}`);
        },
      },
    );
    console.log(values.json ? JSON.stringify(result) : describe(result));
    return result.status === "rejected" ? 1 : 0;
  } catch (error) {
    console.error(`chainmail post: ${(error as Error).message}`);
    return error instanceof NoOutcomeError ? 3 : 1;
  }
}
