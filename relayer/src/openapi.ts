/**
 * The OpenAPI document (GET /openapi.json, generated from the route schemas) and its
 * UI page (GET /docs). Registered before the routes so that it sees all of them.
 */
import swagger from "@fastify/swagger";
import swaggerUi from "@fastify/swagger-ui";
import type { FastifyInstance } from "fastify";

export const API_DESCRIPTION = `ChainMail relayer: posts messages that their authors signed (EIP-712) to the MessageRegistry contract, in batches, and reports each message's definitive outcome.

The chain is the record. A 202 Accepted means the relayer has persisted the message and finishes it after a restart, but it is not a record: keep your signed message and send it again (to this or another relayer) if its status turns unknown, until you see a definitive outcome, confirmed or rejected. Sending the same signed message twice never creates a duplicate.

Errors are JSON: {"code": "<machine-readable>", "message": "<a sentence>"}. Codes that match an on-chain check use the registry's reason names (NotMember, BadSignature, MessageExpired, ...).`;

export async function registerOpenApi(app: FastifyInstance): Promise<void> {
  await app.register(swagger, {
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
