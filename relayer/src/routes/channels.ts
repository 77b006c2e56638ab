/**
 * GET /v1/channels and GET /v1/channels/{id}/messages: reading the record straight
 * from the contract's views and events (the relayer keeps no copy).
 */
import type { FastifyInstance } from "fastify";
import { bodyToText, channelName, contentTypeName, decodeMessagePosted, MESSAGE_POSTED_TOPIC, type PostedMessage } from "@chainmail/protocol";
import { ApiError, ErrorCodes } from "../errors.js";
import { ChannelList, ChannelMessages, ChannelMessagesQuery, ChannelParams, ErrorReply, type PostedMessageJson } from "@chainmail/protocol";
import type { Services } from "../services.js";
import { toBeHex, zeroPadValue } from "ethers";
import { collectLogs } from "@chainmail/chain";

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
  const { chain } = services;

  app.get(
    "/v1/channels",
    {
      schema: {
        summary: "Every channel with its state",
        tags: ["channels"],
        response: { 200: ChannelList, 503: ErrorReply },
      },
    },
    async () => {
      const ids = await chain.registry.channels();
      const channels = await Promise.all(
        ids.map(async (id) => {
          const [, open, seq, head] = await chain.registry.channelInfo(id);
          return { id, name: channelName(id), open, seq: seq.toString(), head };
        }),
      );
      return { channels };
    },
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
      const id = request.params.id.toLowerCase();
      const fromSeq = BigInt(request.query.fromSeq ?? "1");
      const limit = Number(request.query.limit ?? "50");
      if (limit > 200) throw new ApiError(400, ErrorCodes.InvalidRequest, "limit must be from 1 to 200.");
      const state = await chain.channel(id, true);
      if (!state.exists) throw new ApiError(404, "UnknownChannel", `No channel ${id}.`);
      const last = fromSeq + BigInt(limit) - 1n < state.seq ? fromSeq + BigInt(limit) - 1n : state.seq;
      const messages: PostedMessageJson[] = [];
      if (fromSeq <= last) {
        // seq is an indexed topic: ask for exactly the page's seqs.
        const seqTopics: string[] = [];
        for (let s = fromSeq; s <= last; s++) seqTopics.push(zeroPadValue(toBeHex(s), 32));
        const latest = await chain.rpc.blockNumber();
        const logs = await collectLogs(
          chain.rpc,
          { address: chain.location.address, topics: [MESSAGE_POSTED_TOPIC, id, seqTopics] },
          { fromBlock: chain.deploymentBlock, toBlock: latest, chunkBlocks: services.config.logChunkBlocks },
        );
        const found: PostedMessage[] = logs.map((log) => decodeMessagePosted(chain.location, log));
        found.sort((a, b) => (a.seq < b.seq ? -1 : 1));
        messages.push(...found.map(postedJson));
      }
      return {
        channel: id,
        seq: state.seq.toString(),
        messages,
        nextFromSeq: last < state.seq ? Number(last + 1n) : null,
      };
    },
  );
}
