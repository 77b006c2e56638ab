/**
 * POST /v1/messages and GET /v1/messages/{digest}: a signed message in, its fate out.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { messageStatus, postSigned, type Answer } from "../core.js";
import { DigestParams, ErrorReply, MessageStatus, PostQuery, RejectionReply, SignedMessageJson } from "@chainmail/protocol";
import { outcomeJson, pendingJson, statusUrl, type Services } from "../services.js";

const POST_DESCRIPTION = `Posts a message its author signed (EIP-712; get the domain's chainId and registry from GET /v1/info).

Pre-checks (schema, size, signature, time window, membership, nonce) run before any gas is spent; a failure is a 4xx with a machine-readable \`code\` and nothing is sent on-chain.

**202 Accepted means the message is on the relayer's disk** (its write-ahead journal, fsync'd before the answer): if the relayer restarts before the message is mined, the restarted relayer finishes it without your sending it again. It is not yet a record: only a confirmed status (or the chain) says the message is on-chain. Keep the signed message until you see a definitive outcome; if the status turns unknown (404: a relayer without a journal, or one whose disk was lost), send it again. Sending the same signed message again is always safe: it returns the first outcome and never creates a duplicate (the registry refuses a used nonce).

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

function sendAnswer(reply: FastifyReply, answer: Answer): FastifyReply {
  if (answer.status === "pending") return reply.code(202).header("location", statusUrl(answer.digest)).send(pendingJson(answer.digest));
  return reply.code(answer.status === "confirmed" ? 200 : 422).send(outcomeJson(answer));
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
  const { config } = services;

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
      const answer = await postSigned(services, request.body, {
        client: request.ip,
        waitMs: waitRequested(request, config.waitTimeoutMs),
        warn: (err, message) => request.log.warn({ err }, message),
      });
      return sendAnswer(reply, answer);
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
      const answer = await messageStatus(services, request.params.digest, (err, message) => request.log.warn({ err }, message));
      return answer.status === "pending" ? pendingJson(answer.digest) : outcomeJson(answer);
    },
  );
}
