/**
 * `chainmail sign`: sign a message as its author for a relayer's registry and print it
 * as JSON, without posting it: the body of POST /v1/messages, or with --grpc a
 * chainmail.v1.PostMessageRequest for grpcurl or any gRPC client.
 */
import { Wallet } from "ethers";
import { signedMessageJson, signForRelayer } from "@chainmail/client";
import { channelId, contentTypeCode } from "@chainmail/protocol";
import { readCommand, readKey, refuse, RELAYER_URL, type Command } from "../options.js";

const COMMAND: Command = {
  name: "sign",
  synopsis: `Usage: chainmail sign --relayer URL --channel NAME|ID (--text TEXT | --body 0xHEX) [options]

Signs a message as its author (key from --key-file or env CHAINMAIL_KEY) for the
relayer's chain and registry (from its GET /v1/info) and prints it as one line of JSON.`,
  options: {
    ...RELAYER_URL,
    "key-file": { value: "FILE", description: "file holding the author's 0x-prefixed private key" },
    key: { env: "CHAINMAIL_KEY", envOnly: true, description: "the author's private key, when no --key-file is given" },
    channel: { value: "NAME|ID", description: "channel name (up to 31 bytes) or 0x-prefixed 32-byte id" },
    text: { value: "TEXT", description: "the message as text (content type text/plain)" },
    body: { value: "0xHEX", description: "the message as raw bytes instead of --text" },
    "content-type": { value: "TYPE", description: "text/plain, application/json, application/octet-stream or a number" },
    "reply-to": { value: "N", description: "the seq this message replies to" },
    grpc: { type: "boolean", description: 'print a chainmail.v1.PostMessageRequest ({"message": ..., "wait": true}) instead' },
  },
  footer: "Exit status: 0 signed, 1 the relayer could not be asked, 2 wrong input.",
};

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
  try {
    const { signed } = await signForRelayer({
      relayerUrl: relayerUrl!,
      signer: new Wallet(key!),
      channel: channel!,
      text,
      body,
      contentType,
      replyTo: replyTo !== undefined ? BigInt(replyTo) : undefined,
    });
    const json = signedMessageJson(signed);
    console.log(JSON.stringify(read.boolean("grpc") ? { message: json, wait: true } : json));
    return 0;
  } catch (error) {
    console.error(`chainmail sign: ${(error as Error).message}`);
    return 1;
  }
}
