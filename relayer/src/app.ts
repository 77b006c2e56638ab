/**
 * buildApp(config): the relayer as a Fastify instance, shared by the entry point
 * (`chainmail relayer`), the tests (`app.inject`) and the benchmark. It connects to the
 * chain, rebuilds its outcome index from the logs, and registers each part as its own
 * plugin. Closing the app drains the submitter before the server stops.
 */
import Fastify, { type FastifyError, type FastifyInstance } from "fastify";
import { FinalityResolver } from "@chainmail/chain";
import { FinalHead } from "./final-head.js";
import { Chain } from "./chain.js";
import { PreChecker } from "./checks.js";
import type { RelayerConfig } from "./config.js";
import { ApiError, ErrorCodes } from "./errors.js";
import { RelayerMetrics } from "./metrics.js";
import { registerOpenApi } from "./openapi.js";
import { OutcomeIndex } from "./outcomes.js";
import { MessageProbe } from "./probe.js";
import { loadNative, recoveryBackend, type RecoverSigner } from "@chainmail/protocol/signatures";
import { createLogger, type Logger } from "@chainmail/runtime";
import { RateLimiter } from "./rate-limit.js";
import { clientErrorHandler, frameworkErrors, installHttpGuards, parseJsonBody } from "./guards.js";
import { LoadShedder } from "./load.js";
import channelRoutes from "./routes/channels.js";
import healthRoutes from "./routes/health.js";
import messageRoutes from "./routes/messages.js";
import metricsRoutes from "./routes/metrics.js";
import type { Services } from "./services.js";
import { Submitter } from "./submitter/index.js";
import { buildGrpcServer } from "./grpc/server.js";
import { TeamsHandle } from "./teams.js";
import { DurableIntake, journalFile } from "./durable.js";
import teamRoutes from "./routes/teams.js";
import uiRoutes from "./routes/ui.js";

export interface BuildOptions {
  /** Collect Node process metrics too (off in tests that build many apps). */
  defaultMetrics?: boolean;
  /** The logger; default: ChainMail's one logger (pino) at the configured level. */
  logger?: Logger;
  /**
   * Where the pre-check recovers signers: "here" (libsecp256k1, the default where its
   * prebuilt binary loads) or "node" (the probe's ecrecover; the fallback, and for tests).
   */
  recoverSigners?: "here" | "node";
}

/** After the drain, how long gRPC calls still open get to finish before their connections are cut. */
const GRPC_CLOSE_GRACE_MS = 5_000;

/** The HTTP API's Fastify instance, with the gRPC door's (HTTP/2, its own port) as `grpc`; closing the first closes both. */
export type RelayerApp = FastifyInstance & { services: Services; grpc: FastifyInstance };

/** libsecp256k1 when it loads and is wanted; else the node's ecrecover (probe) or, per message, ethers'. */
function signerRecovery(wanted: "here" | "node" | undefined, probing: boolean, logger: Logger): RecoverSigner | undefined {
  if (wanted === "node") return undefined;
  if (loadNative()) return recoveryBackend("native");
  if (wanted === "here") throw new Error("recoverSigners: \"here\" needs libsecp256k1 (npm package secp256k1), whose binary does not load on this platform.");
  logger.warn(`libsecp256k1 does not load on this platform: signers are recovered ${probing ? "by the node's ecrecover (probe)" : "in JavaScript (slow)"}.`);
  return undefined;
}

/** Settles what "auto" means on this node now, so the start-up log says which rule is in force and a tag the node refuses fails the start, not the first Subscribe. */
async function resolveFinality(finality: FinalityResolver, config: RelayerConfig): Promise<void> {
  try {
    await finality.tip();
  } catch (error) {
    if (config.subscribeFinality === "auto") throw error; // auto passes over a refused tag: this is the node failing
    throw new Error(`CHAINMAIL_SUBSCRIBE_FINALITY is ${config.subscribeFinality}, but the node refuses that block tag (${(error as Error).message}); use auto or latest.`);
  }
}

export async function buildApp(config: RelayerConfig, options: BuildOptions = {}): Promise<RelayerApp> {
  const logger = options.logger ?? createLogger({ name: "chainmail-relayer", level: config.logLevel });
  const chain = await Chain.connect(config);
  const metrics = new RelayerMetrics(options.defaultMetrics ?? true);
  const index = new OutcomeIndex(chain, config.outcomeIndexSize, config.logChunkBlocks);
  const finality = new FinalityResolver(chain.rpc, config.subscribeFinality, config.subscribeConfirmations);
  try {
    await index.rebuild(config.indexLookbackBlocks);
    await resolveFinality(finality, config);
  } catch (error) {
    chain.close();
    throw error;
  }
  logger.info(`Subscribe sends messages up to the ${finality.inUse} block`);
  const submitter = new Submitter(chain, index, config, metrics, logger);
  await submitter.fees.resolveMode();
  const zeroGas = await submitter.fees.zeroGasVerdict().catch(() => undefined);
  if (zeroGas && !zeroGas.ok) logger.error(zeroGas.detail + " /readyz reports not ready.");
  chain.startMembershipWatcher((error) => {
    metrics.membershipPollFailures.inc();
    logger.warn({ err: error }, "membership poll failed; retrying at the next poll (revocations wait for the cache TTL meanwhile)");
  });
  let probe: MessageProbe | undefined;
  if (config.precheckMode === "probe") {
    probe = new MessageProbe(chain.rpc, chain.location.address);
    if (!(await probe.works())) probe = undefined; // the node cannot run it: check per message
  }
  const services: Services = {
    config,
    chain,
    index,
    finality,
    finalHead: new FinalHead(finality, config.receiptPollMs),
    submitter,
    checker: new PreChecker(chain, index, submitter, probe, signerRecovery(options.recoverSigners, probe !== undefined, logger)),
    metrics,
    authorLimiter: new RateLimiter(config.rateLimitAuthorPerSecond, config.rateLimitAuthorBurst),
    clientLimiter: new RateLimiter(config.rateLimitClientPerSecond, config.rateLimitClientBurst),
    teams: new TeamsHandle(config, logger),
    load: new LoadShedder(config, () => submitter.pendingCount),
  };
  services.load.start();
  metrics.watchDeliveries(services.teams);
  if (config.journalDir) {
    try {
      const deployedIn = await chain.provider.getBlock(chain.deploymentBlock);
      if (!deployedIn?.hash) throw new Error(`The chain has no block ${chain.deploymentBlock}, where the registry says it was deployed.`);
      const file = journalFile(config.journalDir, chain.location.address, chain.wallets[0].address, deployedIn.hash);
      const { intake, recovered } = await DurableIntake.open(file, services.checker, submitter, logger);
      services.intake = intake;
      await intake.replay(recovered);
    } catch (error) {
      await services.teams.close();
      chain.close();
      throw error;
    }
  }

  const app = Fastify({
    loggerInstance: logger,
    bodyLimit: config.httpBodyLimitBytes,
    // Strict: unknown fields are an error (not silently dropped) and "1" is not 1.
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, allErrors: false } },
    // A waiting POST may be held up to the wait timeout.
    requestTimeout: config.waitTimeoutMs + 30_000,
    clientErrorHandler,
    frameworkErrors,
    // Avvio's plugin timeout also bounds the close hooks: at its default (10 s) it cut the
    // drain short of CHAINMAIL_SHUTDOWN_TIMEOUT_MS, and waiting clients lost their answer.
    pluginTimeout: Math.max(10_000, config.shutdownTimeoutMs + 10_000),
  }) as unknown as RelayerApp;
  // Only JSON is taken: text/plain is refused with 415 rather than parsed as a string.
  app.removeContentTypeParser(["text/plain", "application/json"]);
  app.addContentTypeParser("application/json", { parseAs: "string" }, parseJsonBody);
  installHttpGuards(app, services);
  app.decorate("services", services);
  const grpc = await buildGrpcServer(services, logger);
  app.decorate("grpc", grpc.app);
  if (config.precheckMode === "probe" && !probe) app.log.warn("the node cannot run the batched pre-check probe; checking each message on its own (slower)");

  app.setErrorHandler((error: FastifyError | ApiError, request, reply) => {
    const { status, code, message, headers, extra } = describeError(error);
    if (status >= 500 && !(error instanceof ApiError)) request.log.error({ err: error }, "unexpected error");
    // SubmitFailed comes after the pre-checks passed (the chain refused or gas ran out): not a pre-check rejection.
    if (request.method === "POST" && request.routeOptions.url === "/v1/messages" && code !== ErrorCodes.SubmitFailed) metrics.precheckRejections.inc({ code });
    void reply.code(status).headers(headers).send({ code, message, ...extra });
  });
  app.setNotFoundHandler((request, reply) => {
    void reply.code(404).send({ code: ErrorCodes.NotFound, message: `There is no ${request.method} ${request.url.split("?")[0]}; see /docs.` });
  });

  await registerOpenApi(app);
  await app.register(messageRoutes, { services });
  await app.register(channelRoutes, { services });
  await app.register(healthRoutes, { services });
  await app.register(metricsRoutes, { services });
  await app.register(teamRoutes, { services });
  await app.register(uiRoutes);

  // preClose runs before the server stops taking requests' answers: waiting POSTs
  // still get their outcome (or a retryable ShuttingDown) before connections close.
  app.addHook("preClose", async () => {
    grpc.stop(); // Subscribe streams end with a retryable UNAVAILABLE naming the seq to resume from
    const { handedBack } = await submitter.drain(config.shutdownTimeoutMs);
    if (handedBack > 0) app.log.warn({ handedBack }, "handed back unsettled messages to their clients");
    await services.intake?.close(); // what is unsettled stays in the journal for the next start
  });
  app.addHook("onClose", async () => {
    await grpc.close(GRPC_CLOSE_GRACE_MS);
    await services.teams.close();
    services.load.stop();
    chain.close();
  });
  return app;
}

function describeError(error: FastifyError | ApiError): {
  status: number;
  code: string;
  message: string;
  headers: Record<string, string>;
  extra: Record<string, unknown>;
} {
  if (error instanceof ApiError) {
    return { status: error.statusCode, code: error.code, message: error.message, headers: error.headers, extra: error.extra };
  }
  const e = error as FastifyError;
  if (e.validation) {
    const first = e.validation[0];
    const where = e.validationContext ?? "request";
    const path = first?.instancePath ? `${where}${first.instancePath.replace(/\//g, ".")}` : where;
    let detail = first?.message ?? "is not valid";
    if (first?.keyword === "additionalProperties") detail = `has an unknown field "${String((first.params as { additionalProperty?: string }).additionalProperty)}"`;
    if (first?.keyword === "pattern") detail = `is not in the expected format (${describePattern(String((first.params as { pattern?: string }).pattern))})`;
    return { status: 400, code: ErrorCodes.InvalidRequest, message: `${path} ${detail}.`, headers: {}, extra: {} };
  }
  if (e.code === "FST_ERR_CTP_BODY_TOO_LARGE") {
    return { status: 413, code: ErrorCodes.PayloadTooLarge, message: "The request body is larger than this relayer accepts.", headers: {}, extra: {} };
  }
  if (e.code === "FST_ERR_CTP_INVALID_MEDIA_TYPE") {
    return { status: 415, code: ErrorCodes.UnsupportedMediaType, message: "Send the message as application/json.", headers: {}, extra: {} };
  }
  if (e.statusCode === 414) {
    return { status: 414, code: ErrorCodes.UriTooLong, message: "The URL (or one of its path parameters) is longer than this relayer accepts.", headers: {}, extra: {} };
  }
  if (e.statusCode && e.statusCode >= 400 && e.statusCode < 500) {
    return { status: e.statusCode, code: ErrorCodes.InvalidRequest, message: clientErrorSentence(e), headers: {}, extra: {} };
  }
  return { status: 500, code: ErrorCodes.Internal, message: "The relayer failed unexpectedly; the error is logged. Send the same signed message again.", headers: {}, extra: {} };
}

function clientErrorSentence(e: FastifyError): string {
  if (e instanceof SyntaxError || e.code === "FST_ERR_CTP_INVALID_JSON_BODY") return "The request body is not valid JSON.";
  if (e.code === "FST_ERR_CTP_EMPTY_JSON_BODY") return "The request body is empty; send the signed message as JSON.";
  return firstSentence(e.message);
}

function describePattern(pattern: string): string {
  if (pattern.includes("{64}")) return "0x and 64 hex digits";
  if (pattern.includes("{40}")) return "0x and 40 hex digits";
  if (pattern.includes("{130}")) return "0x and 130 hex digits";
  if (pattern.includes("{2})*")) return "0x and an even number of hex digits";
  if (pattern.includes("true")) return "true or false";
  return "a decimal number";
}

function firstSentence(text: string): string {
  const line = text.split("\n")[0];
  return line.endsWith(".") ? line : `${line}.`;
}
