/** The core's answers as the gRPC messages of chainmail.v1 (plain init shapes). */
import type { MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { bodyToText, contentTypeName, type ChannelDeliveries, type MessageDeliveries, type PostedMessage, type Subscription } from "@chainmail/protocol";
import {
  MessageOutcome_Status,
  type GetChannelDeliveriesResponseSchema,
  type GetMessageDeliveriesResponseSchema,
  type MessageOutcomeSchema,
  type PostedMessageSchema,
  type SignedMessage,
  type TeamSubscriptionSchema,
} from "@chainmail/protocol/grpc";
import type { SignedMessageJson } from "@chainmail/protocol";
import type { Answer } from "../core.js";
import { PENDING_NOTE } from "../services.js";

export function outcomeProto(answer: Answer): MessageInitShape<typeof MessageOutcomeSchema> {
  if (answer.status === "pending") return { status: MessageOutcome_Status.PENDING, digest: answer.digest, message: PENDING_NOTE };
  if (answer.status === "confirmed") {
    return {
      status: MessageOutcome_Status.CONFIRMED,
      digest: answer.digest,
      channel: answer.channel,
      seq: answer.seq,
      head: answer.head,
      transactionHash: answer.transactionHash,
      blockNumber: BigInt(answer.blockNumber),
      logIndex: answer.logIndex,
    };
  }
  return {
    status: MessageOutcome_Status.REJECTED,
    digest: answer.digest,
    channel: answer.channel,
    code: answer.code,
    reasonCode: answer.reasonCode,
    message: answer.message,
    transactionHash: answer.transactionHash ?? "",
    blockNumber: BigInt(answer.blockNumber ?? 0),
  };
}

export function postedProto(m: PostedMessage): MessageInitShape<typeof PostedMessageSchema> {
  return {
    seq: m.seq,
    digest: m.digest,
    channel: m.channel,
    author: m.author,
    body: m.body,
    text: m.contentType === 1 ? bodyToText(m.body) : "",
    contentType: m.contentType,
    contentTypeName: contentTypeName(m.contentType),
    timestamp: m.timestamp,
    replyTo: m.replyTo,
    nonce: m.nonce.toString(),
    head: m.head,
    signature: m.signature,
    blockNumber: BigInt(m.blockNumber),
    transactionHash: m.transactionHash,
    logIndex: m.logIndex,
  };
}

/** The proto's SignedMessage as the HTTP API's JSON, to be checked by the same schema; undefined when absent. */
export function signedJsonOf(m: SignedMessage | undefined): SignedMessageJson | undefined {
  if (!m) return undefined;
  return {
    channel: m.channel,
    author: m.author,
    body: m.body,
    contentType: m.contentType,
    timestamp: m.timestamp,
    replyTo: m.replyTo,
    nonce: m.nonce,
    signature: m.signature,
  };
}

const timestamp = (iso: string) => timestampFromDate(new Date(iso));
const offset = (value: string | null) => (value === null ? undefined : BigInt(value));

export function subscriptionProto(s: Subscription): MessageInitShape<typeof TeamSubscriptionSchema> {
  return { team: s.team, channel: s.channel, channelName: s.channelName, group: s.group, subscribedAt: timestamp(s.subscribedAt) };
}

export function messageDeliveriesProto(d: MessageDeliveries): MessageInitShape<typeof GetMessageDeliveriesResponseSchema> {
  return {
    digest: d.digest,
    channel: d.channel,
    channelName: d.channelName,
    seq: BigInt(d.seq),
    kafka: d.kafka ? { topic: d.kafka.topic, partition: d.kafka.partition, offset: BigInt(d.kafka.offset), appendedAt: timestamp(d.kafka.appendedAt) } : undefined,
    deliveries: d.deliveries.map((t) => ({
      team: t.team,
      group: t.group,
      delivered: t.delivered,
      committedOffset: offset(t.committedOffset),
      seenDeliveredAt: t.seenDeliveredAt === null ? undefined : timestamp(t.seenDeliveredAt),
    })),
  };
}

export function channelDeliveriesProto(d: ChannelDeliveries): MessageInitShape<typeof GetChannelDeliveriesResponseSchema> {
  return {
    channel: d.channel,
    channelName: d.channelName,
    kafkaSeq: BigInt(d.kafkaSeq),
    teams: d.teams.map((t) => ({ team: t.team, group: t.group, deliveredSeq: BigInt(t.deliveredSeq), lag: BigInt(t.lag), committedOffset: offset(t.committedOffset) })),
  };
}
