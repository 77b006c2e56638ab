/**
 * The events the mirror publishes to Kafka, declared once: the TypeBox schemas below
 * are the TypeScript types, the runtime validation (tests, `tail`) and the committed
 * JSON Schema files in `packages/protocol/schemas/` (a test keeps the files equal to these).
 *
 * Values are JSON. Integers that can exceed 2^53 (seq, nonce, timestamps, chain id)
 * are decimal strings; bytes are 0x-prefixed lowercase hex; addresses are checksummed.
 */
import { Type, type Static, type TSchema } from "@sinclair/typebox";
import { Value } from "@sinclair/typebox/value";
import { getAddress, hexlify } from "ethers";
import { channelName, contentTypeName, type RegistryLocation, type SignedMessage } from "./messages.js";
import type { PostedMessage } from "./registry.js";

export const MESSAGE_EVENT_SCHEMA = "chainmail.message-event.v1";
export const MEMBERSHIP_EVENT_SCHEMA = "chainmail.membership-event.v1";
export const CURSOR_SCHEMA = "chainmail.mirror-cursor.v1";
export const RETRACTION_SCHEMA = "chainmail.retraction.v1";

export const DEFAULT_MESSAGES_TOPIC = "chainmail.messages.v1";
export const DEFAULT_MEMBERSHIP_TOPIC = "chainmail.membership.v1";
export const DEFAULT_CURSOR_TOPIC = "chainmail.mirror-cursor.v1";

const Hex = (bytes: number, description: string) =>
  Type.String({ pattern: `^0x[0-9a-f]{${bytes * 2}}$`, description });
const Bytes = (description: string) => Type.String({ pattern: "^0x(?:[0-9a-f]{2})*$", description });
const Address = (description: string) => Type.String({ pattern: "^0x[0-9a-fA-F]{40}$", description });
const Decimal = (description: string) => Type.String({ pattern: "^(0|[1-9][0-9]*)$", description });
const Index = (description: string) => Type.Integer({ minimum: 0, description });

/** Where an event sits on the chain: enough to find the log again and to order events. */
const Position = {
  chainId: Decimal("EIP-155 chain id of the chain the registry lives on."),
  registry: Address("Address of the MessageRegistry that emitted the log (checksummed)."),
  blockNumber: Index("Block that holds the log."),
  blockHash: Hex(32, "Hash of that block."),
  transactionHash: Hex(32, "Transaction that emitted the log."),
  logIndex: Index("Position of the log in its block."),
  channel: Hex(32, "Channel id (bytes32). The Kafka record key is this value, so one channel stays in one partition."),
  channelName: Type.String({ description: "Readable channel name when the id is a short UTF-8 name, else the id itself." }),
};

export const MessageEventSchema = Type.Object(
  {
    schema: Type.Literal(MESSAGE_EVENT_SCHEMA, { description: "Schema name and version of this value." }),
    ...Position,
    seq: Decimal("Sequence number of the message in its channel: 1, 2, 3, ... with no gaps."),
    author: Address("Author who signed the message (checksummed)."),
    digest: Hex(32, "EIP-712 digest of the message, recomputed by the mirror from the log's fields."),
    head: Hex(32, "Channel head after this message: keccak256(abi.encode(previousHead, digest, seq)); 0x00..00 before seq 1."),
    timestamp: Decimal("The author's timestamp (unix seconds), as signed."),
    contentType: Type.Integer({ minimum: 0, maximum: 255, description: "Content type code (1 text/plain, 2 application/json, 3 application/octet-stream, or admin-added)." }),
    contentTypeName: Type.String({ description: "Name of the content type, or 'type N' when unknown to this mirror." }),
    body: Bytes("Message body bytes as hex."),
    signature: Bytes("The author's 65-byte ECDSA signature (r, s, v) as hex."),
    nonce: Decimal("The author's replay-protection nonce, as signed."),
    replyTo: Decimal("Seq of the message this one replies to in the same channel; 0 means not a reply."),
  },
  {
    $id: "https://chainmail.example/schemas/message-event.v1.schema.json",
    title: "ChainMail message event, version 1",
    description:
      "One MessagePosted log of a ChainMail MessageRegistry, as the mirror publishes it to Kafka (topic chainmail.messages.v1 by default, key = channel id). Carries everything needed to recompute the digest and the channel head and to re-verify the signature.",
    additionalProperties: false,
  },
);
export type MessageEvent = Static<typeof MessageEventSchema>;

/** Why `value` is not a message event, in one sentence, or null when it is one. */
export function messageEventProblem(value: unknown): string | null {
  return schemaProblem(MessageEventSchema, MESSAGE_EVENT_SCHEMA, value);
}

/** Why `value` does not match `schema` (named `name`), in one sentence with the first failing path, or null. */
function schemaProblem(schema: TSchema, name: string, value: unknown): string | null {
  if (Value.Check(schema, value)) return null;
  const first = Value.Errors(schema, value).First();
  return `An event is not a valid ${name} value${first ? ` (${first.path || "/"}: ${first.message})` : ""}.`;
}

/** The signed message an event carries, to recompute its digest and recover its signer. */
export function signedMessageOf(e: MessageEvent): SignedMessage {
  return {
    channel: e.channel,
    author: e.author,
    body: e.body,
    contentType: e.contentType,
    timestamp: BigInt(e.timestamp),
    replyTo: BigInt(e.replyTo),
    nonce: BigInt(e.nonce),
    signature: e.signature,
  };
}

/** The registry an event's message is bound to. */
export function registryOf(e: MessageEvent): RegistryLocation {
  return { chainId: BigInt(e.chainId), address: e.registry };
}

export const MEMBERSHIP_KINDS = ["channel-created", "channel-closed", "channel-reopened", "role-granted", "role-revoked"] as const;
export type MembershipKind = (typeof MEMBERSHIP_KINDS)[number];

export const MembershipEventSchema = Type.Object(
  {
    schema: Type.Literal(MEMBERSHIP_EVENT_SCHEMA, { description: "Schema name and version of this value." }),
    kind: Type.Union(
      MEMBERSHIP_KINDS.map((k) => Type.Literal(k)),
      { description: "What happened: a channel was created/closed/reopened, or a channel role was granted/revoked." },
    ),
    ...Position,
    role: Type.Union([Type.Literal("member"), Type.Literal("admin"), Type.Null()], {
      description: "For role events, which channel role; null otherwise.",
    }),
    account: Type.Union([Address("For role events the account; for channel-created the channel admin."), Type.Null()]),
    sender: Type.Union([Address("For role events the account that granted or revoked the role."), Type.Null()]),
  },
  {
    $id: "https://chainmail.example/schemas/membership-event.v1.schema.json",
    title: "ChainMail membership event, version 1",
    description:
      "A change to a channel or its membership (ChannelCreated/Closed/Reopened, RoleGranted/RoleRevoked for the channel's member and admin roles), as the mirror publishes it to Kafka (topic chainmail.membership.v1 by default, key = channel id). Registry-wide roles are not included.",
    additionalProperties: false,
  },
);
export type MembershipEvent = Static<typeof MembershipEventSchema>;

/**
 * A chain reorganisation took back blocks whose events the mirror had already published.
 * Published in the same topic and under the same key (channel id) as the events it
 * retracts, so it arrives after them in their partition: a reader drops every event of
 * `channel` it holds from block `fromBlock` on (for messages: from seq `fromSeq` on) and
 * continues from `headBefore`; the replacing events follow it.
 */
export const RetractionEventSchema = Type.Object(
  {
    schema: Type.Literal(RETRACTION_SCHEMA, { description: "Schema name and version of this value." }),
    kind: Type.Literal("reorg", { description: "Why the events are taken back: the chain reorganised below the mirror's finality setting." }),
    chainId: Position.chainId,
    registry: Position.registry,
    channel: Position.channel,
    channelName: Position.channelName,
    fromBlock: Index("First retracted block: every event of this channel published from this block on is void."),
    fromSeq: Type.Union([Decimal("Messages topic: first retracted seq of this channel; messages from it on are void and will be published again as the new chain has them."), Type.Null()]),
    headBefore: Type.Union([Hex(32, "The channel's head just before fromSeq on the surviving chain (0x00..00 before seq 1): where a reader's head chain continues."), Type.Null()]),
    retractedBlocks: Type.Array(Type.Object({ number: Index("Block number."), hash: Hex(32, "Hash of the block that is no longer on the chain.") }, { additionalProperties: false }), {
      description: "The replaced blocks that held events of this channel in this topic.",
    }),
    newBlockHash: Hex(32, "Hash of the surviving chain's block fromBlock - 1 (the common ancestor)."),
  },
  {
    $id: "https://chainmail.example/schemas/retraction.v1.schema.json",
    title: "ChainMail retraction event, version 1",
    description:
      "Published by the mirror in the messages and membership topics (key = channel id) when the chain reorganised below its finality setting after it had published events from the replaced blocks: those events of the channel are void; the events of the new chain follow.",
    additionalProperties: false,
  },
);
export type RetractionEvent = Static<typeof RetractionEventSchema>;

/** Why `value` is not a retraction event, in one sentence, or null when it is one. */
export function retractionEventProblem(value: unknown): string | null {
  return schemaProblem(RetractionEventSchema, RETRACTION_SCHEMA, value);
}

/** The mirror's position, kept in a compacted topic and written in the same transaction as the events. */
export interface MirrorCursor {
  schema: typeof CURSOR_SCHEMA;
  chainId: string;
  registry: string;
  /** First block not yet mirrored. */
  nextBlock: number;
  /** Hash of block nextBlock - 1, to notice a reset or reorganised chain on restart. */
  lastBlockHash: string | null;
  messagesTopic: string;
  membershipTopic: string;
  updatedAt: string;
}

/** The JSON Schema document committed in `packages/protocol/schemas/` for `schema`. */
export function jsonSchemaDocument(schema: TSchema): Record<string, unknown> {
  // JSON round trip drops TypeBox's symbol keys, leaving plain JSON Schema.
  return { $schema: "https://json-schema.org/draft/2020-12/schema", ...JSON.parse(JSON.stringify(schema)) };
}

export interface ChainContext {
  chainId: bigint;
  registry: string;
}

/** Checksumming costs a keccak per call; a mirror sees the same few addresses and channels again and again. */
const memo = <T>(fn: (key: string) => T, limit = 10_000) => {
  const cache = new Map<string, T>();
  return (key: string): T => {
    let value = cache.get(key);
    if (value === undefined) {
      if (cache.size >= limit) cache.clear();
      value = fn(key);
      cache.set(key, value);
    }
    return value;
  };
};
const checksummed = memo(getAddress);
/** Lowercase 0x hex; strings that already are (the decoder's output) skip ethers' byte round trip. */
const hexOf = (value: string | Uint8Array): string =>
  typeof value === "string" && /^0x[0-9a-fA-F]*$/.test(value) && value.length % 2 === 0 ? value.toLowerCase() : hexlify(value);
const nameOfChannel = memo(channelName);

export function toMessageEvent(ctx: ChainContext, m: PostedMessage): MessageEvent {
  const channel = m.channel.toLowerCase();
  return {
    schema: MESSAGE_EVENT_SCHEMA,
    chainId: ctx.chainId.toString(),
    registry: checksummed(ctx.registry),
    blockNumber: m.blockNumber,
    blockHash: m.blockHash.toLowerCase(),
    transactionHash: m.transactionHash.toLowerCase(),
    logIndex: m.logIndex,
    channel,
    channelName: nameOfChannel(channel),
    seq: m.seq.toString(),
    author: checksummed(m.author),
    digest: m.digest.toLowerCase(),
    head: m.head.toLowerCase(),
    timestamp: BigInt(m.timestamp).toString(),
    contentType: m.contentType,
    contentTypeName: contentTypeName(m.contentType),
    body: hexOf(m.body),
    signature: hexOf(m.signature),
    nonce: BigInt(m.nonce).toString(),
    replyTo: BigInt(m.replyTo).toString(),
  };
}
