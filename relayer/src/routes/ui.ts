/** GET /ui/: the timeline page, built into dist/ui by scripts/build-ui.mjs (read-only; it only calls the GET routes). */
import path from "node:path";
import { fileURLToPath } from "node:url";
import fastifyStatic from "@fastify/static";
import type { FastifyInstance } from "fastify";

export const UI_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../ui");

export default async function uiRoutes(app: FastifyInstance) {
  await app.register(fastifyStatic, { root: UI_ROOT, prefix: "/ui/", index: ["index.html"], redirect: true });
  app.get("/", { schema: { hide: true } }, (_request, reply) => reply.redirect("/ui/"));
}
