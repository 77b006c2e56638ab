/**
 * The OpenAPI document (GET /openapi.json, generated from the route schemas) and its
 * UI page (GET /docs). Registered before the routes so that it sees all of them.
 */
import swagger from "@fastify/swagger";
import swaggerUi from "@fastify/swagger-ui";
import type { FastifyInstance } from "fastify";
import { ErrorReply } from "@chainmail/protocol";

export const API_DESCRIPTION = `ChainMail relayer: posts messages that their authors signed (EIP-712) to the MessageRegistry contract, in batches, and reports each message's definitive outcome.

The chain is the record. A 202 Accepted means the relayer has persisted the message and finishes it after a restart, but it is not a record: keep your signed message and send it again (to this or another relayer) if its status turns unknown, until you see a definitive outcome, confirmed or rejected. Sending the same signed message twice never creates a duplicate.

Errors are JSON, one shape everywhere, including what the HTTP server itself refuses (unknown route 404 NotFound, malformed JSON 400 InvalidRequest, a non-JSON Content-Type 415 UnsupportedMediaType, a body over the limit 413 PayloadTooLarge, a URL parameter too long 414 UriTooLong, headers too large 431 HeadersTooLarge, an ambiguous or malformed HTTP request 400 InvalidRequest): {"code": "<machine-readable>", "message": "<a sentence>"}, sometimes with more fields (digest). Codes that match an on-chain check use the registry's reason names (NotMember, BadSignature, MessageExpired, ...).

Limits and load shedding: every route but /healthz, /readyz and /metrics is rate-limited per client address (429 RateLimited with Retry-After); posts also per author, charged only once the signature is the author's. When the relayer cannot keep pace (too many messages waiting for the chain, too many pre-checks waiting on the chain, or its event loop behind) it answers 503 Overloaded with Retry-After at once; when the chain does not answer within the pre-check deadline, 503 ChainUnavailable with Retry-After. Both are safe to retry with the same signed message.`;

/** The answers every documented route may give besides its own, in the one error shape. */
const COMMON_ERRORS: Record<string, string> = {
  "400": "InvalidRequest: the request does not match the schema, is not valid JSON, or is not valid HTTP.",
  "414": "UriTooLong: a path parameter is longer than the relayer accepts.",
  "429": "RateLimited: too many requests from this client address (or messages from this author); see Retry-After.",
  "431": "HeadersTooLarge: the request's headers are larger than the relayer accepts.",
  "503": "Overloaded (the relayer sheds load: queue, pre-checks or event loop saturated) or ChainUnavailable (the chain did not answer in time); see Retry-After. Also ShuttingDown, SubmitFailed, KafkaUnavailable, DeliveriesDisabled where they apply.",
};
const POST_ERRORS: Record<string, string> = {
  "413": "PayloadTooLarge (the HTTP body) or BodyTooLarge (the message body over the registry's limit).",
  "415": "UnsupportedMediaType: send the message as application/json.",
};
const UNGUARDED = new Set(["/healthz", "/readyz", "/metrics"]);

function withErrors(schema: Record<string, unknown> | undefined, url: string, method: string | string[]): Record<string, unknown> | undefined {
  if (!schema || schema.hide || UNGUARDED.has(url)) return schema;
  const response = { ...((schema.response as Record<string, unknown>) ?? {}) };
  const add = (errors: Record<string, string>) => {
    for (const [status, description] of Object.entries(errors)) {
      const own = response[status] as { description?: string } | undefined;
      if (!own || !own.description) response[status] = { ...(own ?? ErrorReply), description };
    }
  };
  add(COMMON_ERRORS);
  if (method === "POST" || (Array.isArray(method) && method.includes("POST"))) add(POST_ERRORS);
  return { ...schema, response };
}

export async function registerOpenApi(app: FastifyInstance): Promise<void> {
  await app.register(swagger, {
    transform: ({ schema, url, route }) => ({ schema: withErrors(schema as Record<string, unknown>, url, route.method) as typeof schema, url }),
    openapi: {
      openapi: "3.0.3",
      info: { title: "ChainMail relayer", version: "1.0.0", description: API_DESCRIPTION },
      tags: [
        { name: "messages", description: "post signed messages and follow their fate" },
        { name: "channels", description: "read channels and their messages from the chain" },
        { name: "info", description: "what clients sign for" },
        { name: "health", description: "liveness, readiness and metrics" },
      ],
    },
  });
  await app.register(swaggerUi, { routePrefix: "/docs" });
  app.get("/openapi.json", { schema: { hide: true } }, async () => app.swagger());
}
