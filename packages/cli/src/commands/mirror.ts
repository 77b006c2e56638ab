/**
 * `chainmail mirror`: runs the mirror (registry events -> Kafka, exactly once) from
 * flags or environment variables. Stops cleanly on SIGINT/SIGTERM (exit 0); exits 3
 * when another instance with the same transactional id fences it.
 */
import { isAddress } from "ethers";
import { FINALITIES } from "@chainmail/chain";
import { Mirror } from "@chainmail/mirror";
import { createLogger, LOG_LEVELS } from "@chainmail/runtime";
import { ADDRESS, BROKERS, DEFAULT_BROKERS, LOG_LEVEL, readCommand, REGISTRY, refuse, RPC_URL, type Command } from "../options.js";

const COMMAND: Command = {
  name: "mirror",
  synopsis: `Usage: chainmail mirror --registry <address> [options]

Publishes the registry's MessagePosted and membership events to Kafka, up to the
finalized (or safe) block, keyed by channel, exactly once: events and the mirror's
cursor are written in one Kafka transaction per block range.`,
  options: {
    "rpc-url": { ...RPC_URL["rpc-url"], default: "http://127.0.0.1:8545" },
    registry: { ...REGISTRY.registry, default: "(required)" },
    ...BROKERS,
    "messages-topic": { env: "CHAINMAIL_MESSAGES_TOPIC", value: "NAME", default: "chainmail.messages.v1", description: "topic of the message events" },
    "membership-topic": { env: "CHAINMAIL_MEMBERSHIP_TOPIC", value: "NAME", default: "chainmail.membership.v1", description: "topic of the membership events" },
    "cursor-topic": { env: "CHAINMAIL_MIRROR_CURSOR_TOPIC", value: "NAME", default: "chainmail.mirror-cursor.v1", description: "topic of the mirror's cursor" },
    "transactional-id": { env: "CHAINMAIL_MIRROR_TRANSACTIONAL_ID", value: "ID", default: "chainmail-mirror-<chainId>-<registry>", description: "Kafka transactional id (one per registry)" },
    finality: { env: "CHAINMAIL_MIRROR_FINALITY", value: "MODE", default: "auto", description: "auto (finalized, else safe, else latest - confirmations), finalized, safe or latest" },
    confirmations: { env: "CHAINMAIL_MIRROR_CONFIRMATIONS", value: "N", default: "0", description: "depth below the head when finality is latest" },
    "start-block": { env: "CHAINMAIL_MIRROR_START_BLOCK", value: "N", default: "the registry's deploymentBlock()", description: "first block (first start only)" },
    "max-block-range": { env: "CHAINMAIL_MIRROR_MAX_BLOCK_RANGE", value: "N", default: "2000", description: "blocks per eth_getLogs request" },
    "max-events-per-transaction": { env: "CHAINMAIL_MIRROR_MAX_EVENTS", value: "N", default: "5000", description: "events per Kafka transaction" },
    "poll-interval-ms": { env: "CHAINMAIL_MIRROR_POLL_MS", value: "MS", default: "1000", description: "how often the chain is polled" },
    "reorg-window-blocks": { env: "CHAINMAIL_MIRROR_REORG_WINDOW", value: "N", default: "10000", description: "blocks below the cursor remembered to retract what a reorganisation replaced (deeper: exit 1)" },
    partitions: { env: "CHAINMAIL_MIRROR_PARTITIONS", value: "N", default: "3", description: "partitions of the topics the mirror creates" },
    "metrics-port": { env: "CHAINMAIL_MIRROR_METRICS_PORT", value: "N", default: "none", description: "serves GET /metrics when set" },
    "metrics-host": { env: "CHAINMAIL_MIRROR_METRICS_HOST", value: "HOST", default: "127.0.0.1", description: "address the metrics endpoint listens on (0.0.0.0 in a container)" },
    "retry-max-ms": { env: "CHAINMAIL_MIRROR_RETRY_MAX_MS", value: "MS", default: "15000", description: "cap of the retry backoff" },
    ...LOG_LEVEL,
  },
  footer: "Exit codes: 0 stopped by a signal, 1 failed, 2 bad input, 3 fenced by another instance.",
};

const TOPIC = /^[a-zA-Z0-9._-]{1,249}$/;

export async function run(argv: string[]): Promise<number> {
  const read = readCommand(COMMAND, argv);
  if (typeof read === "number") return read;
  const registry = read.required("registry", ADDRESS);
  read.check("registry", isAddress, ADDRESS);
  const finality = read.oneOf("finality", FINALITIES) ?? "auto";
  const level = read.oneOf("log-level", LOG_LEVELS) ?? "info";
  const brokers = read.brokers("brokers", DEFAULT_BROKERS);
  const rpcUrl = read.url("rpc-url") ?? "http://127.0.0.1:8545";
  const topic = (name: string) => read.check(name, (v) => TOPIC.test(v), "a valid Kafka topic name (letters, digits, '.', '_', '-')");
  const options = {
    rpcUrl,
    registry: registry!,
    brokers,
    topics: { messages: topic("messages-topic"), membership: topic("membership-topic"), cursor: topic("cursor-topic") },
    transactionalId: read.string("transactional-id"),
    finality,
    confirmations: read.integer("confirmations"),
    startBlock: read.integer("start-block"),
    maxBlockRange: read.integer("max-block-range", { min: 1 }),
    maxEventsPerTransaction: read.integer("max-events-per-transaction", { min: 1 }),
    pollIntervalMs: read.integer("poll-interval-ms", { min: 10 }),
    reorgWindowBlocks: read.integer("reorg-window-blocks", { min: 1 }),
    partitions: read.integer("partitions", { min: 1 }),
    metricsPort: read.integer("metrics-port", { max: 65535 }),
    metricsHost: read.string("metrics-host"),
    retryMaxMs: read.integer("retry-max-ms", { min: 10 }),
  };
  if (read.problems.length > 0) return refuse(COMMAND, read.problems);

  const mirror = new Mirror({ ...options, logger: createLogger({ name: "chainmail-mirror", level }) });
  const onSignal = (signal: string) => {
    mirror.logger.info(`received ${signal}; finishing the transaction in flight and stopping`);
    mirror.stop();
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  try {
    const exit = await mirror.run();
    return exit === "fenced" ? 3 : 0;
  } catch (error) {
    mirror.logger.error(`mirror failed: ${error instanceof Error ? error.message : String(error)}`);
    return 1;
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}
