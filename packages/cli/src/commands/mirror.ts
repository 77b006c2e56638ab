/**
 * `chainmail mirror`: runs the mirror (registry events -> Kafka, exactly once) from
 * flags or environment variables. Stops cleanly on SIGINT/SIGTERM (exit 0); exits 3
 * when another instance with the same transactional id fences it.
 */
import { parseArgs } from "node:util";
import { isAddress } from "ethers";
import { Mirror, type MirrorOptions } from "@chainmail/mirror";
import { jsonLogger, type LogLevel } from "@chainmail/mirror";
import type { Finality } from "@chainmail/mirror";

const USAGE = `Usage: chainmail mirror --registry <address> [options]

Publishes the registry's MessagePosted and membership events to Kafka, up to the
finalized (or safe) block, keyed by channel, exactly once: events and the mirror's
cursor are written in one Kafka transaction per block range.

Options (flag, environment variable, default):
  --rpc-url <url>                  CHAINMAIL_RPC_URL                    http://127.0.0.1:8545
  --registry <address>             CHAINMAIL_REGISTRY                   (required)
  --brokers <host:port,...>        KAFKA_BROKERS                        127.0.0.1:9092
  --messages-topic <name>          CHAINMAIL_MESSAGES_TOPIC             chainmail.messages.v1
  --membership-topic <name>        CHAINMAIL_MEMBERSHIP_TOPIC           chainmail.membership.v1
  --cursor-topic <name>            CHAINMAIL_MIRROR_CURSOR_TOPIC        chainmail.mirror-cursor.v1
  --transactional-id <id>          CHAINMAIL_MIRROR_TRANSACTIONAL_ID    chainmail-mirror-<chainId>-<registry>
  --finality <mode>                CHAINMAIL_MIRROR_FINALITY            auto (finalized, else safe, else latest - confirmations)
                                   modes: auto, finalized, safe, latest
  --confirmations <n>              CHAINMAIL_MIRROR_CONFIRMATIONS       0 (depth below the head when finality is latest)
  --start-block <n>                CHAINMAIL_MIRROR_START_BLOCK         the registry's deploymentBlock() (first start only)
  --max-block-range <n>            CHAINMAIL_MIRROR_MAX_BLOCK_RANGE     2000
  --max-events-per-transaction <n> CHAINMAIL_MIRROR_MAX_EVENTS          5000
  --poll-interval-ms <n>           CHAINMAIL_MIRROR_POLL_MS             1000
  --partitions <n>                 CHAINMAIL_MIRROR_PARTITIONS          3 (for topics the mirror creates)
  --metrics-port <n>               CHAINMAIL_MIRROR_METRICS_PORT        (none; serves GET /metrics when set)
  --retry-max-ms <n>               CHAINMAIL_MIRROR_RETRY_MAX_MS        15000 (cap of the retry backoff)
  --log-level <level>              CHAINMAIL_LOG_LEVEL                  info (debug, info, warn, error)
  --help

Exit codes: 0 stopped by a signal, 1 failed, 2 bad input, 3 fenced by another instance.`;

class InputError extends Error {}

function integer(name: string, value: string | undefined, min = 0): number | undefined {
  if (value === undefined || value === "") return undefined;
  if (!/^\d+$/.test(value) || Number(value) < min) throw new InputError(`--${name} must be a whole number of at least ${min}, not "${value}".`);
  return Number(value);
}

export async function run(argv: string[]): Promise<number> {
  let options: MirrorOptions;
  let level: LogLevel;
  try {
    const { values: v } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        "rpc-url": { type: "string" },
        registry: { type: "string" },
        brokers: { type: "string" },
        "messages-topic": { type: "string" },
        "membership-topic": { type: "string" },
        "cursor-topic": { type: "string" },
        "transactional-id": { type: "string" },
        finality: { type: "string" },
        confirmations: { type: "string" },
        "start-block": { type: "string" },
        "max-block-range": { type: "string" },
        "max-events-per-transaction": { type: "string" },
        "poll-interval-ms": { type: "string" },
        partitions: { type: "string" },
        "metrics-port": { type: "string" },
        "retry-max-ms": { type: "string" },
        "log-level": { type: "string" },
        help: { type: "boolean" },
      },
    });
    if (v.help) {
      console.log(USAGE);
      return 0;
    }
    const env = process.env;
    const registry = v.registry ?? env.CHAINMAIL_REGISTRY;
    if (!registry) throw new InputError("Give the registry address with --registry or CHAINMAIL_REGISTRY.");
    if (!isAddress(registry)) throw new InputError(`--registry "${registry}" is not an Ethereum address.`);
    const finality = (v.finality ?? env.CHAINMAIL_MIRROR_FINALITY ?? "auto") as Finality;
    if (!["auto", "finalized", "safe", "latest"].includes(finality)) {
      throw new InputError(`--finality must be auto, finalized, safe or latest, not "${finality}".`);
    }
    level = (v["log-level"] ?? env.CHAINMAIL_LOG_LEVEL ?? "info") as LogLevel;
    if (!["debug", "info", "warn", "error"].includes(level)) throw new InputError(`--log-level must be debug, info, warn or error, not "${level}".`);
    const brokers = (v.brokers ?? env.KAFKA_BROKERS ?? "127.0.0.1:9092").split(",").map((b) => b.trim()).filter(Boolean);
    if (brokers.length === 0 || brokers.some((b) => !/^[^:\s]+:\d+$/.test(b))) {
      throw new InputError(`--brokers must be a comma-separated list of host:port, not "${v.brokers ?? env.KAFKA_BROKERS}".`);
    }
    const rpcUrl = v["rpc-url"] ?? env.CHAINMAIL_RPC_URL ?? "http://127.0.0.1:8545";
    if (!/^https?:\/\//.test(rpcUrl)) throw new InputError(`--rpc-url must be an http(s) URL, not "${rpcUrl}".`);
    options = {
      rpcUrl,
      registry,
      brokers,
      topics: {
        messages: v["messages-topic"] ?? env.CHAINMAIL_MESSAGES_TOPIC,
        membership: v["membership-topic"] ?? env.CHAINMAIL_MEMBERSHIP_TOPIC,
        cursor: v["cursor-topic"] ?? env.CHAINMAIL_MIRROR_CURSOR_TOPIC,
      },
      transactionalId: v["transactional-id"] ?? env.CHAINMAIL_MIRROR_TRANSACTIONAL_ID,
      finality,
      confirmations: integer("confirmations", v.confirmations ?? env.CHAINMAIL_MIRROR_CONFIRMATIONS),
      startBlock: integer("start-block", v["start-block"] ?? env.CHAINMAIL_MIRROR_START_BLOCK),
      maxBlockRange: integer("max-block-range", v["max-block-range"] ?? env.CHAINMAIL_MIRROR_MAX_BLOCK_RANGE, 1),
      maxEventsPerTransaction: integer("max-events-per-transaction", v["max-events-per-transaction"] ?? env.CHAINMAIL_MIRROR_MAX_EVENTS, 1),
      pollIntervalMs: integer("poll-interval-ms", v["poll-interval-ms"] ?? env.CHAINMAIL_MIRROR_POLL_MS, 10),
      partitions: integer("partitions", v.partitions ?? env.CHAINMAIL_MIRROR_PARTITIONS, 1),
      metricsPort: integer("metrics-port", v["metrics-port"] ?? env.CHAINMAIL_MIRROR_METRICS_PORT),
      retryMaxMs: integer("retry-max-ms", v["retry-max-ms"] ?? env.CHAINMAIL_MIRROR_RETRY_MAX_MS, 10),
    };
    for (const [name, topic] of Object.entries(options.topics!)) {
      if (topic !== undefined && !/^[a-zA-Z0-9._-]{1,249}$/.test(topic)) throw new InputError(`The ${name} topic "${topic}" is not a valid Kafka topic name.`);
    }
  } catch (error) {
    if (error instanceof InputError || (error as { code?: string }).code?.startsWith("ERR_PARSE_ARGS")) {
      console.error(`chainmail mirror: ${(error as Error).message}`);
      return 2;
    }
    throw error;
  }

  const mirror = new Mirror({ ...options, logger: jsonLogger("chainmail-mirror", { level }) });
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
