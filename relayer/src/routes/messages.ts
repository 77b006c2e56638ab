/**
 * POST /v1/messages and GET /v1/messages/{digest}: a signed message in, its fate out.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { ApiError, ErrorCodes } from "../errors.js";
import { parseSignedMessage } from "../checks.js";
import { DigestParams, ErrorReply, MessageStatus, PostQuery, RejectionReply, SignedMessageJson } from "@chainmail/protocol";
import { outcomeJson, pendingJson, statusUrl, type Services } from "../services.js";
import type { Outcome } from "../outcomes.js";
import type { Settlement } from "../submitter/index.js";

const POST_DESCRIPTION = `Posts a message its author signed (EIP-712; get the domain's chainId and registry from GET /v1/info).

Pre-checks (schema, size, signature, time window, membership, nonce) run before any gas is spent; a failure is a 4xx with a machine-readable \`code\` and nothing is sent on-chain.

**202 Accepted is a promise to try, not a record.** The relayer is stateless: if it restarts before the message is mined, the message is forgotten and GET /v1/messages/{digest} answers 404. Keep the signed message and send it again until you see a definitive outcome (confirmed, or rejected with a reason). Sending the same signed message again is always safe: it returns the first outcome and never creates a duplicate (the registry refuses a used nonce).

Add \`?wait=true\` or the header \`Prefer: wait\` (or \`Prefer: wait=N\`, seconds) to hold the request until the message is confirmed (200, with seq, head, transaction hash and block) or rejected on-chain (422, with the reason code and sentence). If that takes longer than the relayer's wait timeout, the answer is 202.`;

/** `?wait=true|1` or `Prefer: wait[=seconds]` (RFC 7240). */
function waitRequested(request: FastifyRequest<{ Querystring: PostQuery }>, defaultMs: number): number | undefined {
  const query = request.query.wait;
  const prefer = String(request.headers.prefer ?? "");
  const match = /(?:^|[,;\s])wait(?:=(\d+))?(?:$|[,;\s])/i.exec(prefer);
  if (match) return match[1] ? Math.min(Number(match[1]) * 1000, defaultMs) : defaultMs;
  if (query === "true" || query === "1") return defaultMs;
  return undefined;
}

function sendOutcome(reply: FastifyReply, outcome: Outcome): FastifyReply {
  return reply.code(outcome.status === "confirmed" ? 200 : 422).send(outcomeJson(outcome));
}

function sendSettlement(reply: FastifyReply, settlement: Settlement): FastifyReply {
  if (settlement.status === "failed") {
    throw new ApiError(503, settlement.code, settlement.message, { "retry-after": "1" }, { digest: settlement.digest });
  }
  return sendOutcome(reply, settlement);
}

function sendPending(reply: FastifyReply, digest: string): FastifyReply {
  return reply.code(202).header("location", statusUrl(digest)).send(pendingJson(digest));
}

const errorResponses = {
  400: ErrorReply,
  403: ErrorReply,
  404: ErrorReply,
  409: ErrorReply,
  413: ErrorReply,
  429: ErrorReply,
  503: ErrorReply,
};

export default async function messageRoutes(app: FastifyInstance, { services }: { services: Services }) {
  const { config, checker, submitter, index, metrics } = services;

  app.post<{ Body: SignedMessageJson; Querystring: PostQuery }>(
    "/v1/messages",
    {
      schema: {
        summary: "Post a signed message",
        description: POST_DESCRIPTION,
        tags: ["messages"],
        body: SignedMessageJson,
        querystring: PostQuery,
        response: { 200: MessageStatus, 202: MessageStatus, 422: RejectionReply, ...errorResponses },
      },
    },
    async (request, reply) => {
      if (submitter.isStopping) {
        throw new ApiError(503, ErrorCodes.ShuttingDown, "The relayer is shutting down; send the message to another relayer or again shortly.", { "retry-after": "1" });
      }
      const clientWait = services.clientLimiter.take(request.ip);
      if (clientWait > 0) throw new ApiError(429, ErrorCodes.RateLimited, `Too many requests from ${request.ip}; retry in ${clientWait} s.`, { "retry-after": String(clientWait) });
      const authorWait = services.authorLimiter.take(request.body.author.toLowerCase());
      if (authorWait > 0) throw new ApiError(429, ErrorCodes.RateLimited, `Too many messages from author ${request.body.author}; retry in ${authorWait} s.`, { "retry-after": String(authorWait) });

      const message = parseSignedMessage(request.body);
      let result;
      try {
        result = await checker.check(message);
      } catch (error) {
        if (error instanceof ApiError) throw error;
        request.log.warn({ err: error }, "pre-check could not read the chain");
        throw new ApiError(503, ErrorCodes.ChainUnavailable, "The relayer cannot read the chain right now; send the same signed message again shortly.", { "retry-after": "2" });
      }
      if (result.kind === "known") return sendOutcome(reply, result.outcome);
      const entry = result.kind === "pending" ? result.entry : submitter.enqueue(result.digest, result.message);
      const waitMs = waitRequested(request, config.waitTimeoutMs);
      if (waitMs === undefined) return sendPending(reply, result.digest);
      let timer: ReturnType<typeof setTimeout> | undefined;
      const settlement = await Promise.race([
        entry.settled,
        new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), waitMs))),
      ]);
      clearTimeout(timer);
      if (!settlement) return sendPending(reply, result.digest);
      return sendSettlement(reply, settlement);
    },
  );

  app.get<{ Params: DigestParams }>(
    "/v1/messages/:digest",
    {
      schema: {
        summary: "A message's status by digest",
        description:
          "pending (accepted, not yet settled by this relayer), confirmed (with its place on-chain) or rejected (reason code and sentence). 404 means the relayer knows nothing of it: never accepted, or accepted and lost in a restart before it was mined; send the signed message again.",
        tags: ["messages"],
        params: DigestParams,
        response: { 200: MessageStatus, 400: ErrorReply, 404: ErrorReply, 503: ErrorReply },
      },
    },
    async (request) => {
      const digest = request.params.digest.toLowerCase();
      if (submitter.get(digest)) return pendingJson(digest);
      let outcome: Outcome | undefined;
      try {
        outcome = await index.find(digest);
      } catch (error) {
        request.log.warn({ err: error }, "status lookup could not read the chain");
        throw new ApiError(503, ErrorCodes.ChainUnavailable, "The relayer cannot read the chain right now; ask again shortly.", { "retry-after": "2" });
      }
      if (!outcome) {
        metrics.precheckRejections.inc({ code: ErrorCodes.UnknownMessage });
        throw new ApiError(
          404,
          ErrorCodes.UnknownMessage,
          "No message with this digest is pending or on-chain: it was never accepted, or a relayer restarted before sending it; send the signed message again.",
        );
      }
      return outcomeJson(outcome);
    },
  );
}
