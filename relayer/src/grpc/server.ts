/**
 * The relayer's gRPC door: a second Fastify instance over HTTP/2 cleartext (gRPC needs
 * HTTP/2; the HTTP API's instance speaks HTTP/1.1, so this one has its own port, 8081 by
 * default). Connect-ES serves chainmail.v1.RelayerService over gRPC, gRPC-Web and the
 * Connect protocol from the same handlers, with the standard health and reflection
 * services beside it. One interceptor turns the core's errors into gRPC statuses and
 * counts every call per method in the relayer's /metrics.
 */
import type { Http2Session } from "node:http2";
import Fastify, { type FastifyInstance } from "fastify";
import { fastifyConnectPlugin } from "@connectrpc/connect-fastify";
import { Code, ConnectError, createContextValues, type Interceptor } from "@connectrpc/connect";
import { file_google_protobuf_duration } from "@bufbuild/protobuf/wkt";
import { file_chainmail_v1_relayer, health, reflection, RelayerService } from "@chainmail/protocol/grpc";
import { file_google_rpc_error_details } from "@chainmail/protocol/grpc";
import type { Logger } from "@chainmail/runtime";
import type { Services } from "../services.js";
import { connectErrorOf, refusalOf } from "./errors.js";
import { takeClientToken } from "../guards.js";
import { healthService } from "./health.js";
import { reflectionService } from "./reflection.js";
import { CLIENT_ADDRESS, relayerService } from "./relayer-service.js";

/** Methods whose every message is charged to the client in the core (postSigned). */
const POSTS = new Set(["PostMessage", "PostMessages"]);

/** Errors as gRPC statuses (with ErrorInfo), and per-method counts and durations. */
function errorsAndMetrics(services: Services, logger: Logger): Interceptor {
  const { metrics } = services;
  return (next) => async (request) => {
    const method = `${request.service.typeName}/${request.method.name}`;
    const started = performance.now();
    const finish = (code: Code | 0) => {
      metrics.grpcRequests.inc({ method, code: code === 0 ? "OK" : Code[code] });
      metrics.grpcDuration.observe({ method }, (performance.now() - started) / 1000);
    };
    const convert = (error: unknown): ConnectError => {
      const e = connectErrorOf(error);
      if (e.code === Code.Internal) logger.error({ err: error, method }, "unexpected error in a gRPC call");
      // PostMessages counts its refusals itself (they travel inside the stream).
      if (request.method.name === "PostMessage" && !(error instanceof ConnectError)) metrics.precheckRejections.inc({ code: refusalOf(error).reason });
      return e;
    };
    const fail = (error: unknown): ConnectError => {
      const e = convert(error);
      finish(e.code);
      return e;
    };
    let response;
    try {
      // The same shedding and per-client rate as the HTTP door (posts are charged in the core).
      if (request.service.typeName === RelayerService.typeName) {
        services.load.assertResponsive();
        if (!POSTS.has(request.method.name)) takeClientToken(services, request.contextValues.get(CLIENT_ADDRESS));
      }
      response = await next(request);
    } catch (error) {
      throw fail(error);
    }
    if (!response.stream) {
      finish(0);
      return response;
    }
    const messages = response.message;
    return {
      ...response,
      message: (async function* () {
        // A stream the client cancels is returned from mid-way: neither completed nor failed.
        let code: Code | 0 = Code.Canceled;
        metrics.grpcOpenStreams.inc({ method });
        try {
          yield* messages;
          // Handlers end quietly when the call's signal aborts (the client left).
          code = request.signal.aborted ? Code.Canceled : 0;
        } catch (error) {
          const e = convert(error);
          code = e.code;
          throw e;
        } finally {
          metrics.grpcOpenStreams.dec({ method });
          finish(code);
        }
      })(),
    };
  };
}

export interface GrpcServer {
  app: FastifyInstance;
  /**
   * Ends Subscribe streams (a retryable UNAVAILABLE), stops PostMessages streams taking
   * new messages (they answer what they took, then end UNAVAILABLE), and turns health
   * to NOT_SERVING (health Watch calls send it, then end UNAVAILABLE).
   */
  stop(): void;
  /**
   * Closes the door: calls still open get `graceMs` to finish, then their connections are
   * cut. Without the cut, one client that does not read its replies would hold the
   * relayer's shutdown for ever.
   */
  close(graceMs: number): Promise<void>;
}

export async function buildGrpcServer(services: Services, logger: Logger): Promise<GrpcServer> {
  const stopper = new AbortController();
  const app = Fastify({ http2: true, loggerInstance: logger.child({ door: "grpc" }) }) as unknown as FastifyInstance;
  const services_ = [RelayerService.typeName, health.Health.typeName, reflection.ServerReflection.typeName];
  await app.register(fastifyConnectPlugin, {
    interceptors: [errorsAndMetrics(services, logger)],
    // The HTTP door's body limit, per request message: Connect's own default is 4 GiB,
    // read into memory before any check.
    readMaxBytes: services.config.httpBodyLimitBytes,
    contextValues: (request) => createContextValues().set(CLIENT_ADDRESS, request.ip),
    routes: (router) => {
      router.service(RelayerService, relayerService(services, logger, stopper.signal));
      router.service(health.Health, healthService(stopper.signal));
      router.service(
        reflection.ServerReflection,
        reflectionService([file_chainmail_v1_relayer, health.file_grpc_health_v1_health, file_google_rpc_error_details, file_google_protobuf_duration, reflection.file_grpc_reflection_v1_reflection], services_),
      );
    },
  });
  const sessions = new Set<Http2Session>();
  app.server.on("session", (session: Http2Session) => {
    sessions.add(session);
    session.once("close", () => sessions.delete(session));
  });
  return {
    app,
    stop: () => stopper.abort(),
    async close(graceMs) {
      const cut = setTimeout(() => {
        if (sessions.size > 0) logger.warn({ connections: sessions.size }, `gRPC calls still open ${graceMs} ms into the shutdown: cutting their connections`);
        for (const session of sessions) session.destroy();
      }, graceMs);
      try {
        await app.close();
      } finally {
        clearTimeout(cut);
      }
    },
  };
}
