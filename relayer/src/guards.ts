/**
 * What every HTTP request passes before its route, and the answers Fastify and Node
 * give on their own, in the API's one error shape ({code, message}):
 * - reads are rate-limited per client address like posts (the same bucket), and
 *   refused with 503 Overloaded while the event loop is behind; health and metrics
 *   stay open so that operators and probes can still see the relayer;
 * - a request Node's HTTP parser refuses (a smuggling attempt with both Content-Length
 *   and Transfer-Encoding, headers or a URL too large, a timeout) never reaches
 *   Fastify's error handler: `clientErrorHandler` answers it on the socket.
 */
import type { Socket } from "node:net";
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { ApiError, ErrorCodes } from "./errors.js";
import type { Services } from "./services.js";

/** Routes that answer whatever the load: liveness, readiness, metrics. */
const UNGUARDED = new Set(["/healthz", "/readyz", "/metrics"]);

export function installHttpGuards(app: FastifyInstance, services: Services): void {
  app.addHook("onRequest", async (request) => {
    const path = request.url.split("?")[0];
    if (UNGUARDED.has(path)) return;
    services.load.assertResponsive();
    // Posts are charged in the core (for both doors); everything else here.
    if (request.method === "POST" && path === "/v1/messages") return;
    takeClientToken(services, request.ip);
  });
}

/** One request's token from the client address's bucket, or 429 RateLimited with Retry-After. */
export function takeClientToken(services: Services, client: string): void {
  const wait = services.clientLimiter.take(client);
  if (wait > 0) throw new ApiError(429, ErrorCodes.RateLimited, `Too many requests from ${client}; retry in ${wait} s.`, { "retry-after": String(wait) });
}

/** Node's parser errors -> status, code and sentence. */
function describeClientError(error: NodeJS.ErrnoException): { status: number; reason: string; code: string; message: string } {
  switch (error.code) {
    case "HPE_HEADER_OVERFLOW":
      return { status: 431, reason: "Request Header Fields Too Large", code: ErrorCodes.HeadersTooLarge, message: "The request's headers (or its URL) are larger than this relayer accepts." };
    case "ERR_HTTP_REQUEST_TIMEOUT":
      return { status: 408, reason: "Request Timeout", code: ErrorCodes.RequestTimeout, message: "The request was not received in time; send it again." };
    default:
      return {
        status: 400,
        reason: "Bad Request",
        code: ErrorCodes.InvalidRequest,
        message: `The request is not valid HTTP/1.1 (${String(error.code ?? "parse error")}); an ambiguous request, such as one with both Content-Length and Transfer-Encoding, is refused.`,
      };
  }
}

/** Fastify's `clientErrorHandler`: the answer to a request Node could not parse, then close. */
export function clientErrorHandler(error: NodeJS.ErrnoException, socket: Socket): void {
  if (error.code === "ECONNRESET" || !socket.writable) {
    socket.destroy(error);
    return;
  }
  const { status, reason, code, message } = describeClientError(error);
  const body = JSON.stringify({ code, message });
  socket.end(`HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
}

/** Fastify's `frameworkErrors`: a URL its router refuses (bad encoding, a parameter too long), in the one shape. */
export function frameworkErrors(error: FastifyError, _request: FastifyRequest, reply: FastifyReply): void {
  if (error.code === "FST_ERR_MAX_PARAM_LENGTH") {
    void reply.code(414).send({ code: ErrorCodes.UriTooLong, message: "A path parameter of the URL is longer than this relayer accepts." });
    return;
  }
  void reply.code(400).send({ code: ErrorCodes.InvalidRequest, message: "The URL is not valid (bad percent-encoding or a malformed path)." });
}

/** Whether parsed JSON holds a key that would poison a prototype if the object were merged somewhere. */
function hasPoisonKey(value: unknown): boolean {
  if (value === null || typeof value !== "object") return false;
  if (Object.hasOwn(value, "__proto__")) return true;
  const ctor = (value as { constructor?: unknown }).constructor;
  if (Object.hasOwn(value, "constructor") && ctor !== null && typeof ctor === "object" && Object.hasOwn(ctor, "prototype")) return true;
  return Object.values(value).some(hasPoisonKey);
}

/**
 * The JSON body parser: the platform's JSON.parse, then a refusal that names the
 * problem. Fastify's own parser refuses a `__proto__` key too, but as "not valid
 * JSON", which sends a client looking for a syntax error that is not there.
 */
export function parseJsonBody(_request: FastifyRequest, body: string, done: (error: Error | null, value?: unknown) => void): void {
  if (body.length === 0) {
    done(new ApiError(400, ErrorCodes.InvalidRequest, "The request body is empty; send the signed message as JSON."));
    return;
  }
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    done(new ApiError(400, ErrorCodes.InvalidRequest, "The request body is not valid JSON."));
    return;
  }
  // The quick test first: only a body that mentions the keys is walked.
  if (/"(?:__proto__|constructor)"/.test(body) && hasPoisonKey(value)) {
    done(new ApiError(400, ErrorCodes.InvalidRequest, "The request body has a __proto__ or constructor.prototype key, which this API refuses (prototype poisoning); remove it."));
    return;
  }
  done(null, value);
}
