/**
 * Reading the record of truth: decoding the registry's logs into plain objects, and
 * rebuilding a message (and its digest) from a `MessagePosted` log alone.
 */
import { Interface, type Log } from "ethers";
import { MessageRegistry__factory, type MessageRegistry } from "./contracts.js";
import { messageFields, type RegistryLocation, type SignedMessage } from "./messages.js";

/** The registry's whole ABI: its own interface plus AccessControl's and Pausable's. */
export const registryInterface: Interface = MessageRegistry__factory.createInterface() as unknown as Interface;

/** Channel ids per `channels(offset, limit)` call: under 5M gas (a contract test holds it), far below nodes' eth_call caps. */
export const CHANNEL_PAGE_SIZE = 1000;

/** The paged views `allChannelIds` reads. */
export type ChannelListReader = Pick<MessageRegistry, "channelCount" | "channels">;

/**
 * Every channel id in creation order, read page by page (`channels(offset, limit)`), all
 * at one block when `blockTag` is given. The count is read first, so the list is never
 * longer than it.
 */
export async function allChannelIds(registry: ChannelListReader, blockTag?: number | string, pageSize = CHANNEL_PAGE_SIZE): Promise<string[]> {
  const at = blockTag === undefined ? {} : { blockTag };
  const count = Number(await registry.channelCount(at));
  const ids: string[] = [];
  while (ids.length < count) {
    const page = await registry.channels(ids.length, Math.min(pageSize, count - ids.length), at);
    if (page.length === 0) break;
    ids.push(...page);
  }
  return ids;
}

const topicOf = (event: string) => registryInterface.getEvent(event)!.topicHash;
export const MESSAGE_POSTED_TOPIC = topicOf("MessagePosted");
export const MESSAGE_REJECTED_TOPIC = topicOf("MessageRejected");
export const ROLE_GRANTED_TOPIC = topicOf("RoleGranted");
export const ROLE_REVOKED_TOPIC = topicOf("RoleRevoked");
export const CHANNEL_CREATED_TOPIC = topicOf("ChannelCreated");
export const CHANNEL_CLOSED_TOPIC = topicOf("ChannelClosed");
export const CHANNEL_REOPENED_TOPIC = topicOf("ChannelReopened");

/** A `MessagePosted` log as data, with the digest recomputed from its fields. */
export interface PostedMessage extends SignedMessage {
  seq: bigint;
  head: string;
  digest: string;
  blockNumber: number;
  blockHash: string;
  transactionHash: string;
  logIndex: number;
}

export interface RejectedMessage {
  channel: string;
  author: string;
  digest: string;
  reason: number;
  blockNumber: number;
  transactionHash: string;
  logIndex: number;
}

type RawLog = Pick<Log, "topics" | "data" | "blockNumber" | "blockHash" | "transactionHash"> & {
  index?: number;
  logIndex?: number;
};

function logIndexOf(log: RawLog): number {
  return Number(log.index ?? log.logIndex ?? 0);
}

export function decodeMessageRejected(log: RawLog): RejectedMessage {
  const parsed = registryInterface.decodeEventLog("MessageRejected", log.data, log.topics);
  return {
    channel: parsed.channel,
    author: parsed.author,
    digest: parsed.digest,
    reason: Number(parsed.reason),
    blockNumber: Number(log.blockNumber),
    transactionHash: log.transactionHash,
    logIndex: logIndexOf(log),
  };
}

/** The `post` (and `digestOf`) argument for a signed message: the ABI struct. */
export function toCallArgument(message: SignedMessage) {
  return { ...messageFields(message), signature: message.signature };
}

/** Bytes of a run's header in a packed batch: channel (32), message count (2). */
export const PACKED_RUN_HEADER = 34;
/** Bytes of a packed message before its body at the least (replyTo 0, nonce 0); replyTo and nonce add their length. */
export const PACKED_MESSAGE_HEADER = 37;
/** Most messages in one run (the count is 2 bytes); a longer stretch becomes several runs. */
const MAX_RUN = 0xffff;

function hexInto(out: Buffer, at: number, hex: string, length: number, what: string): number {
  if (!/^0x(?:[0-9a-fA-F]{2})*$/.test(hex) || hex.length !== 2 + 2 * length) throw new RangeError(`${what} must be ${length} bytes of 0x-prefixed hex.`);
  return at + out.write(hex.slice(2), at, "hex");
}

function uintInto(out: Buffer, at: number, value: bigint | number, length: number, what: string): number {
  const v = BigInt(value);
  if (v < 0n || v >> BigInt(8 * length) !== 0n) throw new RangeError(`${what} ${v} does not fit in ${length} bytes.`);
  return length === 0 ? at : at + out.write(v.toString(16).padStart(2 * length, "0"), at, "hex");
}

/** Bytes of `value` without leading zero bytes (0 for 0): how replyTo and nonce are packed and logged. */
export function minimalLength(value: bigint | number): number {
  let v = BigInt(value);
  let n = 0;
  for (; v > 0n; v >>= 8n) n++;
  return n;
}

/**
 * `postBatch`'s argument: runs of consecutive messages of one channel, each run its
 * channel (32 bytes) and message count (2), then its messages back to back, each author
 * (20), contentType (1), timestamp (8), R (1), replyTo (R bytes), N (1), nonce (N bytes),
 * body length (4), signature length (2), body, signature; integers big-endian, replyTo
 * and nonce without leading zero bytes (IMessageRegistry.postBatch,
 * README "postBatch calldata"). The order of the messages is kept (their outcomes come
 * in that order): messages of one channel are one run only where they are adjacent, so
 * callers that want the saving group by channel first (the relayer's batches do).
 */
export function packBatchBytes(messages: readonly SignedMessage[]): Buffer {
  const hexLength = (hex: string, what: string) => {
    if (!/^0x(?:[0-9a-fA-F]{2})*$/.test(hex)) throw new RangeError(`${what} is not 0x-prefixed hex bytes.`);
    return (hex.length - 2) / 2;
  };
  const sizes = messages.map((m) => [hexLength(m.body, "body"), hexLength(m.signature, "signature")] as const);
  // Runs: [first index, count].
  const runs: [number, number][] = [];
  messages.forEach((m, i) => {
    const last = runs[runs.length - 1];
    if (last && last[1] < MAX_RUN && messages[last[0]].channel.toLowerCase() === m.channel.toLowerCase()) last[1]++;
    else runs.push([i, 1]);
  });
  const lengths = messages.map((m) => [minimalLength(m.replyTo), minimalLength(m.nonce)] as const);
  const out = Buffer.alloc(
    runs.length * PACKED_RUN_HEADER + sizes.reduce((sum, [b, s], i) => sum + PACKED_MESSAGE_HEADER + lengths[i][0] + lengths[i][1] + b + s, 0),
  );
  let at = 0;
  for (const [first, count] of runs) {
    at = hexInto(out, at, messages[first].channel, 32, "channel");
    at = uintInto(out, at, count, 2, "run length");
    for (let i = first; i < first + count; i++) {
      const m = messages[i];
      const [bodyLength, signatureLength] = sizes[i];
      at = hexInto(out, at, m.author, 20, "author");
      at = uintInto(out, at, m.contentType, 1, "contentType");
      at = uintInto(out, at, m.timestamp, 8, "timestamp");
      const [replyToLength, nonceLength] = lengths[i];
      if (replyToLength > 8) throw new RangeError(`replyTo ${m.replyTo} does not fit in 8 bytes.`);
      if (nonceLength > 32) throw new RangeError(`nonce ${m.nonce} does not fit in 32 bytes.`);
      at = uintInto(out, at, replyToLength, 1, "replyTo length");
      at = uintInto(out, at, m.replyTo, replyToLength, "replyTo");
      at = uintInto(out, at, nonceLength, 1, "nonce length");
      at = uintInto(out, at, m.nonce, nonceLength, "nonce");
      at = uintInto(out, at, bodyLength, 4, "body length");
      at = uintInto(out, at, signatureLength, 2, "signature length");
      at = hexInto(out, at, m.body, bodyLength, "body");
      at = hexInto(out, at, m.signature, signatureLength, "signature");
    }
  }
  return out;
}

/** packBatchBytes as 0x hex, for ethers calls: `registry.postBatch(packBatch(messages))`. */
export function packBatch(messages: readonly SignedMessage[]): string {
  return "0x" + packBatchBytes(messages).toString("hex");
}
