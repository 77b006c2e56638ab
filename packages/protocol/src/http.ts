/**
 * The API's shapes, declared once with TypeBox: Fastify validates requests and
 * documents responses from them (OpenAPI), and the TypeScript types come from them.
 */
import { Type, type Static } from "@sinclair/typebox";

const Bytes32 = Type.String({ pattern: "^0x[0-9a-fA-F]{64}$", description: "32 bytes, 0x-prefixed hex" });
const Address = Type.String({ pattern: "^0x[0-9a-fA-F]{40}$", description: "20-byte address, 0x-prefixed hex" });
const Uint64 = Type.String({ pattern: "^(0|[1-9][0-9]{0,19})$", description: "unsigned 64-bit integer as a decimal string" });
const Uint256 = Type.String({ pattern: "^(0|[1-9][0-9]{0,77})$", description: "unsigned 256-bit integer as a decimal string" });

export const SignedMessageJson = Type.Object(
  {
    channel: Bytes32,
    author: Address,
    body: Type.String({ pattern: "^0x(?:[0-9a-fA-F]{2})*$", description: "message bytes, 0x-prefixed hex" }),
    contentType: Type.Integer({ minimum: 0, maximum: 255, description: "1 text/plain, 2 application/json, 3 application/octet-stream" }),
    timestamp: Uint64,
    replyTo: Uint64,
    nonce: Uint256,
    signature: Type.String({ pattern: "^0x[0-9a-fA-F]{130}$", description: "65-byte EIP-712 signature by the author, 0x-prefixed hex" }),
  },
  { additionalProperties: false, description: "A message as its author signed it (EIP-712, domain from GET /v1/info)." },
);
export type SignedMessageJson = Static<typeof SignedMessageJson>;

export const ErrorReply = Type.Object(
  {
    code: Type.String({ description: "machine-readable error code" }),
    message: Type.String({ description: "what went wrong, as a sentence" }),
  },
  { additionalProperties: true},
);
export type ErrorReply = Static<typeof ErrorReply>;

export const MessageStatus = Type.Object(
  {
    status: Type.Union([Type.Literal("pending"), Type.Literal("confirmed"), Type.Literal("rejected")]),
    digest: Bytes32,
    statusUrl: Type.Optional(Type.String()),
    note: Type.Optional(Type.String()),
    channel: Type.Optional(Bytes32),
    seq: Type.Optional(Uint64),
    head: Type.Optional(Bytes32),
    transactionHash: Type.Optional(Bytes32),
    blockNumber: Type.Optional(Type.Integer()),
    logIndex: Type.Optional(Type.Integer()),
    code: Type.Optional(Type.String({ description: "reason name when rejected on-chain" })),
    reasonCode: Type.Optional(Type.Integer({ description: "IMessageRegistry.Reason number when rejected" })),
    message: Type.Optional(Type.String({ description: "the reason as a sentence when rejected" })),
  },
  {},
);
export type MessageStatus = Static<typeof MessageStatus>;

/**
 * The three outcomes a client can be given for one message, as a client reads them:
 * the same fields as MessageStatus, with what each status guarantees made required.
 * (The relayer serializes with the flat MessageStatus; clients check answers with these.)
 */
export const PendingOutcome = Type.Object({ status: Type.Literal("pending"), digest: Bytes32, statusUrl: Type.String(), note: Type.Optional(Type.String()) });
export type PendingOutcome = Static<typeof PendingOutcome>;

export const ConfirmedOutcome = Type.Object({
  status: Type.Literal("confirmed"),
  digest: Bytes32,
  channel: Bytes32,
  seq: Uint64,
  head: Bytes32,
  transactionHash: Bytes32,
  blockNumber: Type.Integer(),
  logIndex: Type.Integer(),
});
export type ConfirmedOutcome = Static<typeof ConfirmedOutcome>;

export const RejectedOutcome = Type.Object({
  status: Type.Literal("rejected"),
  digest: Bytes32,
  channel: Type.Optional(Bytes32),
  code: Type.String(),
  message: Type.String(),
  reasonCode: Type.Optional(Type.Integer()),
  transactionHash: Type.Optional(Bytes32),
  blockNumber: Type.Optional(Type.Integer()),
});
export type RejectedOutcome = Static<typeof RejectedOutcome>;

export const MessageOutcome = Type.Union([PendingOutcome, ConfirmedOutcome, RejectedOutcome]);
export type MessageOutcome = Static<typeof MessageOutcome>;

/** 422: refused by a pre-check ({code, message}) or rejected on-chain (also status "rejected", reasonCode, transaction). */
export const RejectionReply = Type.Object({
  code: Type.String({ description: "machine-readable reason (the registry's reason name for on-chain checks)" }),
  message: Type.String({ description: "the reason as a sentence" }),
  status: Type.Optional(Type.Literal("rejected")),
  digest: Type.Optional(Bytes32),
  channel: Type.Optional(Bytes32),
  reasonCode: Type.Optional(Type.Integer()),
  transactionHash: Type.Optional(Bytes32),
  blockNumber: Type.Optional(Type.Integer()),
});

export const DigestParams = Type.Object({ digest: Bytes32 }, { additionalProperties: false });
export type DigestParams = Static<typeof DigestParams>;

export const PostQuery = Type.Object(
  {
    wait: Type.Optional(
      Type.String({ pattern: "^(true|false|1|0)$", description: "true: hold the request until the message has a definitive outcome (or the wait timeout passes)" }),
    ),
  },
  { additionalProperties: false },
);
export type PostQuery = Static<typeof PostQuery>;

export const ChannelParams = Type.Object({ id: Bytes32 }, { additionalProperties: false });
export type ChannelParams = Static<typeof ChannelParams>;

export const ChannelMessagesQuery = Type.Object(
  {
    fromSeq: Type.Optional(Type.String({ pattern: "^[1-9][0-9]{0,18}$", description: "first seq to return (default 1)" })),
    limit: Type.Optional(Type.String({ pattern: "^[1-9][0-9]{0,2}$", description: "messages per page, 1 to 200 (default 50)" })),
  },
  { additionalProperties: false },
);
export type ChannelMessagesQuery = Static<typeof ChannelMessagesQuery>;

export const Channel = Type.Object({
  id: Bytes32,
  name: Type.String(),
  open: Type.Boolean(),
  seq: Uint64,
  head: Bytes32,
});

export type Channel = Static<typeof Channel>;

export const ChannelList = Type.Object({ channels: Type.Array(Channel) });
export type ChannelList = Static<typeof ChannelList>;

export const PostedMessageJson = Type.Object({
  seq: Uint64,
  digest: Bytes32,
  channel: Bytes32,
  author: Address,
  body: Type.String(),
  text: Type.Optional(Type.String({ description: "the body as UTF-8 when its content type is text/plain" })),
  contentType: Type.Integer(),
  contentTypeName: Type.String(),
  timestamp: Uint64,
  replyTo: Uint64,
  nonce: Uint256,
  head: Bytes32,
  signature: Type.String(),
  blockNumber: Type.Integer(),
  transactionHash: Bytes32,
  logIndex: Type.Integer(),
});
export type PostedMessageJson = Static<typeof PostedMessageJson>;

export const ChannelMessages = Type.Object({
  channel: Bytes32,
  seq: Uint64,
  messages: Type.Array(PostedMessageJson),
  nextFromSeq: Type.Union([Type.Integer(), Type.Null()], { description: "where the next page starts, null when this page reached the channel's last message" }),
});
export type ChannelMessages = Static<typeof ChannelMessages>;

export const Info = Type.Object({
  chainId: Type.String(),
  registry: Address,
  deploymentBlock: Type.Integer(),
  limits: Type.Object({ maxBodyBytes: Type.Integer(), maxAge: Type.Integer(), maxFutureSkew: Type.Integer() }),
  batch: Type.Object({ maxSize: Type.Integer(), maxWaitMs: Type.Integer() }),
  signers: Type.Array(Address),
});
export type Info = Static<typeof Info>;

const TeamName = Type.String({ pattern: "^[a-z0-9][a-z0-9-]{0,62}$", description: "team name: lower-case letters, digits and dashes" });

export const SubscriptionParams = Type.Object({ team: TeamName, id: Bytes32 }, { additionalProperties: false });
export type SubscriptionParams = Static<typeof SubscriptionParams>;

export const Subscription = Type.Object({
  team: TeamName,
  channel: Bytes32,
  channelName: Type.String(),
  group: Type.String({ description: "the Kafka consumer group the team reads the channel with (chainmail tail --team)" }),
  subscribedAt: Type.String({ description: "ISO time the subscription was registered" }),
});
export type Subscription = Static<typeof Subscription>;

export const SubscriptionList = Type.Object({ subscriptions: Type.Array(Subscription) });
export type SubscriptionList = Static<typeof SubscriptionList>;

export const SubscriptionsQuery = Type.Object({ team: Type.Optional(TeamName), channel: Type.Optional(Bytes32) }, { additionalProperties: false });
export type SubscriptionsQuery = Static<typeof SubscriptionsQuery>;

export const Delivery = Type.Object({
  team: TeamName,
  group: Type.String(),
  delivered: Type.Boolean({ description: "the team's consumer group has committed past the message in Kafka" }),
  committedOffset: Type.Union([Type.String(), Type.Null()], { description: "the group's committed offset on the channel's partition; null before its first commit" }),
  seenDeliveredAt: Type.Union([Type.String(), Type.Null()], {
    description: "first time this relayer saw the committed offset past the message (delivered at or before then); null when not delivered",
  }),
});
export type Delivery = Static<typeof Delivery>;

export const MessageDeliveries = Type.Object({
  digest: Bytes32,
  channel: Bytes32,
  channelName: Type.String(),
  seq: Uint64,
  kafka: Type.Union([Type.Object({ topic: Type.String(), partition: Type.Integer(), offset: Type.String(), appendedAt: Type.String() }), Type.Null()], {
    description: "where the mirror published the message; null when it is on-chain but not in Kafka yet",
  }),
  deliveries: Type.Array(Delivery),
});
export type MessageDeliveries = Static<typeof MessageDeliveries>;

export const ChannelTeamLag = Type.Object({
  team: TeamName,
  group: Type.String(),
  deliveredSeq: Uint64,
  lag: Type.Integer({ description: "messages of the channel in Kafka the team has not committed past" }),
  committedOffset: Type.Union([Type.String(), Type.Null()]),
});
export type ChannelTeamLag = Static<typeof ChannelTeamLag>;

export const ChannelDeliveries = Type.Object({
  channel: Bytes32,
  channelName: Type.String(),
  kafkaSeq: Uint64,
  teams: Type.Array(ChannelTeamLag),
});
export type ChannelDeliveries = Static<typeof ChannelDeliveries>;
