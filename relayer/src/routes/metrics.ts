/** GET /metrics: Prometheus text format. */
import type { FastifyInstance } from "fastify";
import type { Services } from "../services.js";

export default async function metricsRoutes(app: FastifyInstance, { services }: { services: Services }) {
  app.get("/metrics", { schema: { summary: "Prometheus metrics", tags: ["health"] } }, async (_request, reply) => {
    services.metrics.queueDepth.set(services.submitter.queueDepth);
    await services.metrics.refreshDeliveries();
    reply.header("content-type", services.metrics.registry.contentType);
    return services.metrics.registry.metrics();
  });
}
