/**
 * Team subscriptions and delivery confirmation: GET/PUT/DELETE /v1/subscriptions,
 * GET /v1/messages/{digest}/deliveries and GET /v1/channels/{id}/deliveries. A thin
 * door over @chainmail/teams (the gRPC door calls the same core).
 */
import { timingSafeEqual } from "node:crypto";
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
import { ApiError, ErrorCodes } from "../errors.js";
import type { Services } from "../services.js";

const errors = { 400: ErrorReply, 401: ErrorReply, 403: ErrorReply, 404: ErrorReply, 503: ErrorReply };
const SubscriptionReply = Type.Object({ subscription: Subscription });

const LOOPBACK = new Set(["127.0.0.1", "::1", "::ffff:127.0.0.1"]);

export default async function teamRoutes(app: FastifyInstance, { services }: { services: Services }) {
  const { chain, teams, config } = services;

  /** Changing who receives what is an operator's act: a bearer token, or (without one configured) this machine only. */
  const authorize = (request: FastifyRequest) => {
    const token = config.subscriptionsToken;
    if (token === undefined) {
      if (!LOOPBACK.has(request.ip)) throw new ApiError(403, ErrorCodes.Forbidden, "Subscriptions can be changed only from this machine unless the relayer has CHAINMAIL_SUBSCRIPTIONS_TOKEN set.");
      return;
    }
    const given = Buffer.from(/^Bearer (.+)$/.exec(String(request.headers.authorization ?? ""))?.[1] ?? "");
    const wanted = Buffer.from(token);
    if (given.length !== wanted.length || !timingSafeEqual(given, wanted)) {
      throw new ApiError(401, ErrorCodes.Unauthorized, "Changing subscriptions needs the header Authorization: Bearer <CHAINMAIL_SUBSCRIPTIONS_TOKEN>.", { "www-authenticate": "Bearer" });
    }
  };

  const existingChannel = async (id: string) => {
    let state;
    try {
      state = await chain.channel(id, true);
    } catch {
      throw new ApiError(503, ErrorCodes.ChainUnavailable, "The relayer cannot read the chain right now; ask again shortly.", { "retry-after": "2" });
    }
    if (!state.exists) throw new ApiError(404, "UnknownChannel", `No channel ${id}.`);
  };

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
      authorize(request);
      const core = teams.get();
      const id = request.params.id.toLowerCase();
      await existingChannel(id);
      const { subscription, created } = await core.subscribe(request.params.team, id);
      return reply.code(created ? 201 : 200).send({ subscription });
    },
  );

  app.delete<{ Params: SubscriptionParams }>(
    "/v1/subscriptions/:team/:id",
    {
      schema: { summary: "Remove a team's subscription to a channel", tags: ["teams"], params: SubscriptionParams, response: { 200: SubscriptionReply, ...errors } },
    },
    async (request) => {
      authorize(request);
      const core = teams.get();
      const id = request.params.id.toLowerCase();
      const [subscription] = core.subscriptions({ team: request.params.team, channel: id });
      if (!subscription || !(await core.unsubscribe(request.params.team, id))) {
        throw new ApiError(404, ErrorCodes.NotSubscribed, `Team ${request.params.team} is not subscribed to ${id}.`);
      }
      return { subscription };
    },
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
    async (request) => {
      const core = teams.get();
      const digest = request.params.digest.toLowerCase();
      let outcome;
      try {
        outcome = await services.index.find(digest);
      } catch {
        throw new ApiError(503, ErrorCodes.ChainUnavailable, "The relayer cannot read the chain right now; ask again shortly.", { "retry-after": "2" });
      }
      if (!outcome || outcome.status !== "confirmed") {
        const why = outcome ? "it was rejected on-chain" : services.submitter.get(digest) ? "it is still pending" : "the relayer knows no such message";
        throw new ApiError(404, ErrorCodes.UnknownMessage, `No message with this digest is on-chain (${why}), so nobody can have received it.`);
      }
      return core.deliveriesOf(outcome.channel, outcome.seq, digest);
    },
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
    async (request) => {
      const core = teams.get();
      const id = request.params.id.toLowerCase();
      await existingChannel(id);
      return core.channelDeliveries(id);
    },
  );
}
