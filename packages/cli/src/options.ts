/**
 * What every `chainmail` command shares: the flags with one name and one meaning
 * everywhere (`--rpc-url`, `--registry`, `--brokers`, `--log-level`, `--help`,
 * `--version`), the usage text generated from the declared options, and how wrong
 * input is refused: every problem on stderr, one sentence per line, exit 2.
 */
import { describeOptions, EXIT_USAGE, OptionReader, type OptionSpecs } from "@chainmail/runtime/options";
import { LOG_LEVELS } from "@chainmail/runtime/logger";
import { readFileSync } from "node:fs";
import { Wallet } from "ethers";
import type { PostMessageInput } from "@chainmail/client";
import { channelId, contentTypeCode } from "@chainmail/protocol";
import { FileNonceSource } from "./nonce-state.js";
import { cliVersion } from "./version.js";

export const RPC_URL = {
  "rpc-url": { env: "CHAINMAIL_RPC_URL", value: "URL", description: "JSON-RPC endpoint of the chain" },
} satisfies OptionSpecs;

export const REGISTRY = {
  registry: { env: "CHAINMAIL_REGISTRY", value: "ADDRESS", description: "MessageRegistry contract address" },
} satisfies OptionSpecs;

export const DEFAULT_BROKERS = "127.0.0.1:9092";

export const BROKERS = {
  brokers: { env: "KAFKA_BROKERS", value: "HOST:PORT,...", default: DEFAULT_BROKERS, description: "Kafka bootstrap brokers" },
} satisfies OptionSpecs;

export const LOG_LEVEL = {
  "log-level": { env: "CHAINMAIL_LOG_LEVEL", value: "LEVEL", default: "info", description: `log level: ${LOG_LEVELS.join(", ")}` },
} satisfies OptionSpecs;

export const RELAYER_URL = {
  relayer: { env: "CHAINMAIL_RELAYER", value: "URL", description: "relayer base URL, e.g. http://127.0.0.1:8080" },
} satisfies OptionSpecs;

/** post and sign: one relayer, or several to fail over between. */
export const RELAYER_URLS = {
  relayer: {
    env: "CHAINMAIL_RELAYER",
    value: "URL[,URL...]",
    multiple: true,
    description: "relayer base URL; several (comma-separated, or the flag repeated) to move to the next on network errors and 5xx",
  },
} satisfies OptionSpecs;

/** On every command. */
export const COMMON = {
  help: { type: "boolean", short: "h", description: "print this text and exit" },
  version: { type: "boolean", description: "print the version and exit" },
} satisfies OptionSpecs;

export interface Command {
  /** As typed after `chainmail`. */
  name: string;
  /** The usage line and a paragraph on what the command does. */
  synopsis: string;
  options: OptionSpecs;
  /** Exit codes and anything else after the options. */
  footer?: string;
}

export function helpText(command: Command): string {
  const footer = command.footer ? `\n\n${command.footer}` : "";
  return `${command.synopsis}\n\nOptions (flag, environment variable, default):\n${describeOptions({ ...command.options, ...COMMON })}${footer}`;
}

/**
 * Reads a command's flags and environment. `--help` and `--version` are answered here
 * (the number returned is the exit code); otherwise the reader comes back, holding any
 * problems found so far, for the command's own checks.
 */
export function readCommand(command: Command, argv: string[], env: NodeJS.ProcessEnv = process.env): OptionReader | number {
  const read = new OptionReader({ ...command.options, ...COMMON }, { argv, env });
  if (read.boolean("help")) {
    console.log(helpText(command));
    return 0;
  }
  if (read.boolean("version")) {
    console.log(cliVersion());
    return 0;
  }
  return read;
}

/** Every problem on stderr, one sentence per line, and the usage exit code. */
export function refuse(command: Command, problems: string[]): number {
  for (const problem of problems) console.error(`chainmail ${command.name}: ${problem}`);
  return EXIT_USAGE;
}

/** How an address must look, in the sentence that refuses one. */
export const ADDRESS = "an Ethereum address (0x followed by 40 hex digits)";

/** The author's private key from --key-file or the environment (CHAINMAIL_KEY), 0x-prefixed. */
export function readKey(keyFile: string | undefined, fromEnv: string | undefined): string {
  const raw = keyFile ? readFileSync(keyFile, "utf8") : fromEnv;
  if (raw === undefined) throw new Error("Give the author's key with --key-file FILE or the environment variable CHAINMAIL_KEY.");
  const key = raw.trim();
  if (!/^(0x)?[0-9a-fA-F]{64}$/.test(key)) {
    throw new Error(keyFile ? `${keyFile} does not hold a 32-byte hex private key.` : "CHAINMAIL_KEY is not a 32-byte hex private key.");
  }
  return key.startsWith("0x") ? key : `0x${key}`;
}

/** A message to sign as its author: what `post` and `sign` both take. */
export const AUTHORED_MESSAGE = {
  "key-file": { value: "FILE", description: "file holding the author's 0x-prefixed private key" },
  // The key itself only from the environment: a flag would show it to anyone who lists processes.
  key: { env: "CHAINMAIL_KEY", envOnly: true, description: "the author's private key, when no --key-file is given" },
  channel: { value: "NAME|ID", description: "channel name (up to 31 bytes) or 0x-prefixed 32-byte id" },
  text: { value: "TEXT", description: "the message as text (content type text/plain)" },
  body: { value: "0xHEX", description: "the message as raw bytes instead of --text" },
  "content-type": { value: "TYPE", description: "text/plain, application/json, application/octet-stream or a number" },
  "reply-to": { value: "N", description: "the seq this message replies to" },
} satisfies OptionSpecs;

/** RELAYER_URLS: every URL from the repeated flag or the comma-separated value, each checked. */
function readRelayerUrls(read: OptionReader): string[] {
  const given = read.flagged("relayer") ? read.strings("relayer") : [read.required("relayer", "the relayer's base URL, such as http://127.0.0.1:8080 (or several, comma-separated)") ?? ""];
  const urls = given.flatMap((v) => v.split(",")).map((u) => u.trim()).filter(Boolean);
  for (const url of urls) {
    if (!/^https?:\/\/\S+$/.test(url)) read.problem(`The relayer URL "${url}" must start with http:// or https://.`);
  }
  if (urls.length === 0 && given.some((v) => v !== "")) read.problem("Give at least one relayer URL.");
  return urls;
}

/**
 * The relayer and the message to sign (AUTHORED_MESSAGE), each problem noted on `read`;
 * undefined when there was one (the caller then refuses with them all).
 */
export function readAuthoredMessage(read: OptionReader): PostMessageInput | undefined {
  const relayerUrls = readRelayerUrls(read);
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
  if (read.problems.length > 0) return undefined;
  return {
    relayerUrl: relayerUrls,
    signer: new Wallet(key!),
    channel: channel!,
    text,
    body,
    contentType,
    replyTo: replyTo !== undefined ? BigInt(replyTo) : undefined,
    nonces: new FileNonceSource(),
  };
}
