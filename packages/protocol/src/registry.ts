/**
 * Reading the record of truth: decoding the registry's logs into plain objects, and
 * rebuilding a message (and its digest) from a `MessagePosted` log alone.
 */
import { Interface, type Log } from "ethers";
import { MessageRegistry__factory, type MessageRegistry } from "./contracts.js";
import { messageFields, type RegistryLocation, type SignedMessage } from "./messages.js";
import { digestOf } from "./digest.js";

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

/** Decodes a `MessagePosted` log and recomputes its digest for `registry`. */
export function decodeMessagePosted(registry: RegistryLocation, log: RawLog): PostedMessage {
  const parsed = registryInterface.decodeEventLog("MessagePosted", log.data, log.topics);
  const message: SignedMessage = {
    channel: parsed.channel,
    author: parsed.author,
    body: parsed.body,
    contentType: Number(parsed.contentType),
    timestamp: parsed.timestamp,
    replyTo: parsed.replyTo,
    nonce: parsed.nonce,
    signature: parsed.signature,
  };
  return {
    ...message,
    seq: parsed.seq,
    head: parsed.head,
    digest: digestOf(registry, message),
    blockNumber: Number(log.blockNumber),
    blockHash: log.blockHash,
    transactionHash: log.transactionHash,
    logIndex: logIndexOf(log),
  };
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

/** The `post`/`postBatch` argument for a signed message. */
export function toCallArgument(message: SignedMessage) {
  return { ...messageFields(message), signature: message.signature };
}
