/**
 * Team subscriptions and delivery confirmation: GET/PUT/DELETE /v1/subscriptions,
 * GET /v1/messages/{digest}/deliveries and GET /v1/channels/{id}/deliveries. A thin
 * door over ../teams.ts and @chainmail/teams (the gRPC door calls the same functions).
 */
import type { FastifyInstance, FastifyRequest } from "fastify";
import {
  ChannelDeliveries,
  ChannelParams,
  DigestParams,
  ErrorReply,
  MessageDeliveries,
  Subscription,
  SubscriptionList,
  SubscriptionParams,
  SubscriptionsQuery,
} from "@chainmail/protocol";
import { Type } from "@sinclair/typebox";
import type { Services } from "../services.js";
import { channelDeliveries, messageDeliveries, subscribeTeam, unsubscribeTeam, type SubscriptionCaller } from "../teams.js";

const errors = { 400: ErrorReply, 401: ErrorReply, 403: ErrorReply, 404: ErrorReply, 503: ErrorReply };
const SubscriptionReply = Type.Object({ subscription: Subscription });

const caller = (request: FastifyRequest): SubscriptionCaller => ({ ip: request.ip, authorization: request.headers.authorization });

export default async function teamRoutes(app: FastifyInstance, { services }: { services: Services }) {
  const { teams } = services;

  app.get<{ Querystring: SubscriptionsQuery }>(
    "/v1/subscriptions",
    { schema: { summary: "Teams' subscriptions, optionally of one team or channel", tags: ["teams"], querystring: SubscriptionsQuery, response: { 200: SubscriptionList, ...errors } } },
    async (request) => ({ subscriptions: teams.get().subscriptions({ team: request.query.team, channel: request.query.channel }) }),
  );

  app.put<{ Params: SubscriptionParams }>(
    "/v1/subscriptions/:team/:id",
    {
      schema: {
        summary: "Subscribe a team to a channel (idempotent)",
        description:
          "201 when new, 200 when the team was already subscribed. The answer names the Kafka consumer group the team reads the channel with (`chainmail tail --team`); its committed offsets are the delivery record. Needs `Authorization: Bearer <token>` when the relayer has CHAINMAIL_SUBSCRIPTIONS_TOKEN, else a client on the relayer's machine.",
        tags: ["teams"],
        params: SubscriptionParams,
        response: { 200: SubscriptionReply, 201: SubscriptionReply, ...errors },
      },
    },
    async (request, reply) => {
      const { subscription, created } = await subscribeTeam(services, caller(request), request.params.team, request.params.id);
      return reply.code(created ? 201 : 200).send({ subscription });
    },
  );

  app.delete<{ Params: SubscriptionParams }>(
    "/v1/subscriptions/:team/:id",
    {
      schema: { summary: "Remove a team's subscription to a channel", tags: ["teams"], params: SubscriptionParams, response: { 200: SubscriptionReply, ...errors } },
    },
    async (request) => ({ subscription: await unsubscribeTeam(services, caller(request), request.params.team, request.params.id) }),
  );

  app.get<{ Params: DigestParams }>(
    "/v1/messages/:digest/deliveries",
    {
      schema: {
        summary: "Which subscribed teams have a message",
        description:
          "For each team subscribed to the message's channel: delivered when the team's consumer group has committed past the message's Kafka record (tail commits only after a message passed its checks). The message is located from the chain (its channel and seq); a Kafka record at that seq with another digest never counts.",
        tags: ["teams"],
        params: DigestParams,
        response: { 200: MessageDeliveries, ...errors },
      },
    },
    async (request) => messageDeliveries(services, request.params.digest),
  );

  app.get<{ Params: ChannelParams }>(
    "/v1/channels/:id/deliveries",
    {
      schema: {
        summary: "Delivery lag of each subscribed team in a channel",
        tags: ["teams"],
        params: ChannelParams,
        response: { 200: ChannelDeliveries, ...errors },
      },
    },
    async (request) => channelDeliveries(services, request.params.id),
  );
}
