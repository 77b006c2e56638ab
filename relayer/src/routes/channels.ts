/**
 * GET /v1/channels and GET /v1/channels/{id}/messages: reading the record straight
 * from the contract's views and events (the relayer keeps no copy).
 */
import type { FastifyInstance } from "fastify";
import { bodyToText, contentTypeName, type PostedMessage } from "@chainmail/protocol";
import { channelMessages, listChannels } from "../core.js";
import { ChannelList, ChannelMessages, ChannelMessagesQuery, ChannelParams, ErrorReply, type PostedMessageJson } from "@chainmail/protocol";
import type { Services } from "../services.js";

export function postedJson(m: PostedMessage): PostedMessageJson {
  return {
    seq: m.seq.toString(),
    digest: m.digest,
    channel: m.channel,
    author: m.author,
    body: m.body,
    ...(m.contentType === 1 ? { text: bodyToText(m.body) } : {}),
    contentType: m.contentType,
    contentTypeName: contentTypeName(m.contentType),
    timestamp: m.timestamp.toString(),
    replyTo: m.replyTo.toString(),
    nonce: m.nonce.toString(),
    head: m.head,
    signature: m.signature,
    blockNumber: m.blockNumber,
    transactionHash: m.transactionHash,
    logIndex: m.logIndex,
  };
}

export default async function channelRoutes(app: FastifyInstance, { services }: { services: Services }) {
  app.get(
    "/v1/channels",
    {
      schema: {
        summary: "Every channel with its state",
        tags: ["channels"],
        response: { 200: ChannelList, 503: ErrorReply },
      },
    },
    async () => ({ channels: (await listChannels(services)).map((c) => ({ ...c, seq: c.seq.toString() })) }),
  );

  app.get<{ Params: ChannelParams; Querystring: ChannelMessagesQuery }>(
    "/v1/channels/:id/messages",
    {
      schema: {
        summary: "A page of a channel's messages, in seq order, from MessagePosted events",
        tags: ["channels"],
        params: ChannelParams,
        querystring: ChannelMessagesQuery,
        response: { 200: ChannelMessages, 400: ErrorReply, 404: ErrorReply, 503: ErrorReply },
      },
    },
    async (request) => {
      const page = await channelMessages(services, request.params.id, BigInt(request.query.fromSeq ?? "1"), Number(request.query.limit ?? "50"));
      return {
        channel: page.channel,
        seq: page.seq.toString(),
        messages: page.messages.map(postedJson),
        nextFromSeq: page.nextFromSeq === null ? null : Number(page.nextFromSeq),
      };
    },
  );
}
