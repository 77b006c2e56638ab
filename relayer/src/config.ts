/**
 * The relayer's configuration: read from the environment (and flags) once, validated at start.
 * Every wrong setting gets one sentence naming the variable, so an operator can fix
 * them all in one go instead of one crash at a time.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { getAddress, isAddress, Wallet } from "ethers";
import { FINALITIES, type Finality } from "@chainmail/chain";
import { InputError, LOG_LEVELS, OptionReader, type LogLevel, type OptionSpecs } from "@chainmail/runtime";

export type GasMode = "auto" | "eip1559" | "legacy" | "zero";

export interface RelayerConfig {
  rpcUrl: string;
  registryAddress: string;
  /** Private keys that pay for `postBatch` transactions; each one is an independent lane. */
  signerKeys: string[];
  host: string;
  port: number;
  /** The gRPC door's port (HTTP/2 cleartext, on `host`); 0 = any free port. */
  grpcPort: number;
  /** A batch is sent when it holds this many messages... */
  batchMaxSize: number;
  /** ...or when its oldest message has waited this long. */
  batchMaxWaitMs: number;
  /** Transactions one signer may have unconfirmed at once (pipelining). */
  maxInFlightPerSigner: number;
  /** How long `?wait=true` holds a request before answering 202. */
  waitTimeoutMs: number;
  /** Largest HTTP request body; larger ones get 413 before parsing. */
  httpBodyLimitBytes: number;
  rateLimitAuthorPerSecond: number;
  rateLimitAuthorBurst: number;
  rateLimitClientPerSecond: number;
  rateLimitClientBurst: number;
  gasMode: GasMode;
  /** A transaction without a receipt after this long is re-sent with a higher fee (same nonce). */
  replaceAfterMs: number;
  feeBumpPercent: number;
  /** How often receipts are polled. */
  receiptPollMs: number;
  /** Membership, channel and limits answers are reused for this long. */
  cacheTtlMs: number;
  /** A signer needs at least this balance (wei) to be ready, unless gas is free. */
  minSignerBalanceWei: bigint;
  /** Bounded in-memory index of outcomes (digest -> outcome), rebuilt from logs. */
  outcomeIndexSize: number;
  /** How many blocks back from the head the outcome index is rebuilt at start. */
  indexLookbackBlocks: number;
  /** Blocks per eth_getLogs request. */
  logChunkBlocks: number;
  /**
   * The newest block `Subscribe` sends messages from, as the mirror's `--finality`: a
   * message in a block that could still be replaced is held back, so a subscriber never
   * receives one that then vanishes from the chain.
   */
  subscribeFinality: Finality;
  /** Depth below the head when that rule is `latest` (or `auto` on a node without finalized/safe). */
  subscribeConfirmations: number;
  /**
   * Subscribe streams open at once, on the relayer and per client address (0 = no bound):
   * each one costs the node a log query at every new final block.
   */
  maxSubscribeStreams: number;
  maxSubscribeStreamsPerClient: number;
  /** Graceful shutdown waits at most this long for in-flight transactions. */
  shutdownTimeoutMs: number;
  logLevel: LogLevel;
  /**
   * "probe": nonce and membership checks of concurrent requests are answered together by
   * one eth_call; "calls": one eth_call each (slower; for nodes that cannot run the
   * probe). In both, signers are recovered in the relayer with libsecp256k1 where its
   * binary loads; elsewhere by the probe (the node's ecrecover) or, per call, by ethers.
   */
  precheckMode: "probe" | "calls";
  /** A batch is cut before its gas bound would pass this (stays under block and tx caps). */
  maxBatchGas: number;
  /** Load shedding: unsettled messages, pre-checks in flight, event-loop delay (0 = off); see load.ts. */
  maxPending: number;
  maxPrechecks: number;
  maxEventLoopDelayMs: number;
  /** A pre-check waiting longer than this on the chain answers 503 ChainUnavailable. */
  precheckTimeoutMs: number;
  /** Per JSON-RPC call (both the lean client and the ethers provider). */
  rpcTimeoutMs: number;
  /** Kafka bootstrap brokers for team subscriptions and deliveries; empty: those routes answer 503. */
  kafkaBrokers: string[];
  /** The mirror's message topic (where deliveries are read). */
  messagesTopic: string;
  /** The compacted topic that holds the subscriptions. */
  subscriptionsTopic: string;
  /** Bearer token that subscribe/unsubscribe require; unset: only clients on this machine (loopback) may change subscriptions. */
  subscriptionsToken?: string;
  /**
   * Where the write-ahead journal lives (see journal.ts): a 202 is on disk here before it is
   * sent. Undefined: no journal, a 202 lives in memory only (configs built in code, `none`).
   */
  journalDir?: string;
}

/** Relative to the working directory; the Helm chart points it at the pod's volume. */
export const DEFAULT_JOURNAL_DIR = ".chainmail/journal";

export const CONFIG_DEFAULTS = {
  host: "127.0.0.1",
  port: 8080,
  grpcPort: 8081,
  batchMaxSize: 100,
  batchMaxWaitMs: 50,
  maxInFlightPerSigner: 4,
  waitTimeoutMs: 30_000,
  httpBodyLimitBytes: 64 * 1024,
  rateLimitAuthorPerSecond: 50,
  rateLimitAuthorBurst: 100,
  rateLimitClientPerSecond: 2000,
  rateLimitClientBurst: 4000,
  gasMode: "auto" as GasMode,
  replaceAfterMs: 30_000,
  feeBumpPercent: 20,
  receiptPollMs: 200,
  cacheTtlMs: 2_000,
  minSignerBalanceWei: 10n ** 16n,
  outcomeIndexSize: 200_000,
  indexLookbackBlocks: 100_000,
  logChunkBlocks: 10_000,
  subscribeFinality: "auto" as Finality,
  subscribeConfirmations: 0,
  maxSubscribeStreams: 1_000,
  maxSubscribeStreamsPerClient: 100,
  shutdownTimeoutMs: 20_000,
  logLevel: "info" as LogLevel,
  precheckMode: "probe" as "probe" | "calls",
  maxBatchGas: 15_000_000,
  maxPending: 20_000,
  maxPrechecks: 2_000,
  maxEventLoopDelayMs: 1_000,
  precheckTimeoutMs: 5_000,
  rpcTimeoutMs: 10_000,
  kafkaBrokers: [] as string[],
  messagesTopic: "chainmail.messages.v1",
  subscriptionsTopic: "chainmail.subscriptions.v1",
} satisfies Partial<RelayerConfig>;

/**
 * Every setting: its flag (`chainmail relayer --port 8081`), its environment variable
 * and what it sets. The signer keys come only from the environment: a flag would show
 * them to anyone who can list processes.
 */
export const RELAYER_OPTIONS: OptionSpecs = {
  "rpc-url": { env: "CHAINMAIL_RPC_URL", value: "URL", default: "(required)", description: "JSON-RPC URL of the chain" },
  registry: { env: "CHAINMAIL_REGISTRY", value: "ADDRESS", default: "(required)", description: "MessageRegistry address" },
  "signer-keys": { env: "CHAINMAIL_SIGNER_KEYS", envOnly: true, default: "(required)", description: "comma-separated private keys that pay for postBatch; one lane each" },
  "signer-keys-file": { env: "CHAINMAIL_SIGNER_KEYS_FILE", value: "FILE", default: "none", description: "file holding the signer keys (comma- or newline-separated) instead of CHAINMAIL_SIGNER_KEYS: a mounted Kubernetes Secret" },
  host: { env: "CHAINMAIL_HOST", value: "HOST", default: CONFIG_DEFAULTS.host, description: "address to listen on" },
  port: { env: "CHAINMAIL_PORT", value: "N", default: String(CONFIG_DEFAULTS.port), description: "port to listen on (0 = any free port)" },
  "grpc-port": { env: "CHAINMAIL_GRPC_PORT", value: "N", default: String(CONFIG_DEFAULTS.grpcPort), description: "gRPC port (HTTP/2 cleartext; 0 = any free port)" },
  "batch-max": { env: "CHAINMAIL_BATCH_MAX", value: "N", default: String(CONFIG_DEFAULTS.batchMaxSize), description: "messages per postBatch transaction (1 = no batching)" },
  "batch-wait-ms": { env: "CHAINMAIL_BATCH_WAIT_MS", value: "MS", default: String(CONFIG_DEFAULTS.batchMaxWaitMs), description: "longest a message waits for its batch to fill" },
  "max-inflight-per-signer": { env: "CHAINMAIL_MAX_INFLIGHT_PER_SIGNER", value: "N", default: String(CONFIG_DEFAULTS.maxInFlightPerSigner), description: "unconfirmed transactions per signer" },
  "wait-timeout-ms": { env: "CHAINMAIL_WAIT_TIMEOUT_MS", value: "MS", default: String(CONFIG_DEFAULTS.waitTimeoutMs), description: "how long ?wait=true holds a request before a 202" },
  "http-body-limit": { env: "CHAINMAIL_HTTP_BODY_LIMIT", value: "BYTES", default: String(CONFIG_DEFAULTS.httpBodyLimitBytes), description: "largest HTTP request body in bytes (413 above), and largest gRPC request message (RESOURCE_EXHAUSTED above)" },
  "rate-author-per-s": { env: "CHAINMAIL_RATE_AUTHOR_PER_S", value: "N", default: String(CONFIG_DEFAULTS.rateLimitAuthorPerSecond), description: "messages per second per author (0 = off)" },
  "rate-author-burst": { env: "CHAINMAIL_RATE_AUTHOR_BURST", value: "N", default: String(CONFIG_DEFAULTS.rateLimitAuthorBurst), description: "burst per author" },
  "rate-client-per-s": { env: "CHAINMAIL_RATE_CLIENT_PER_S", value: "N", default: String(CONFIG_DEFAULTS.rateLimitClientPerSecond), description: "requests per second per client address (0 = off)" },
  "rate-client-burst": { env: "CHAINMAIL_RATE_CLIENT_BURST", value: "N", default: String(CONFIG_DEFAULTS.rateLimitClientBurst), description: "burst per client address" },
  "gas-mode": { env: "CHAINMAIL_GAS_MODE", value: "MODE", default: CONFIG_DEFAULTS.gasMode, description: "auto, eip1559, legacy or zero (zero-gas-price private chains)" },
  "replace-after-ms": { env: "CHAINMAIL_REPLACE_AFTER_MS", value: "MS", default: String(CONFIG_DEFAULTS.replaceAfterMs), description: "re-send a transaction with a bumped fee after this long" },
  "fee-bump-percent": { env: "CHAINMAIL_FEE_BUMP_PERCENT", value: "N", default: String(CONFIG_DEFAULTS.feeBumpPercent), description: "fee increase per replacement (at least 10)" },
  "receipt-poll-ms": { env: "CHAINMAIL_RECEIPT_POLL_MS", value: "MS", default: String(CONFIG_DEFAULTS.receiptPollMs), description: "receipt polling interval; also how often Subscribe looks for a new final block (one look for all streams)" },
  "cache-ttl-ms": { env: "CHAINMAIL_CACHE_TTL_MS", value: "MS", default: String(CONFIG_DEFAULTS.cacheTtlMs), description: "how long membership/channel/limits answers are reused" },
  "min-signer-balance-wei": { env: "CHAINMAIL_MIN_SIGNER_BALANCE_WEI", value: "WEI", default: String(CONFIG_DEFAULTS.minSignerBalanceWei), description: "balance a signer needs for /readyz (ignored when gas is free)" },
  "outcome-index-size": { env: "CHAINMAIL_OUTCOME_INDEX_SIZE", value: "N", default: String(CONFIG_DEFAULTS.outcomeIndexSize), description: "outcomes kept in memory (digest -> outcome)" },
  "index-lookback-blocks": { env: "CHAINMAIL_INDEX_LOOKBACK_BLOCKS", value: "N", default: String(CONFIG_DEFAULTS.indexLookbackBlocks), description: "blocks of logs read at start to rebuild the index" },
  "log-chunk-blocks": { env: "CHAINMAIL_LOG_CHUNK_BLOCKS", value: "N", default: String(CONFIG_DEFAULTS.logChunkBlocks), description: "blocks per eth_getLogs request" },
  "subscribe-finality": { env: "CHAINMAIL_SUBSCRIBE_FINALITY", value: "MODE", default: CONFIG_DEFAULTS.subscribeFinality, description: "newest block Subscribe sends messages from: auto (finalized, else safe, else latest - confirmations), finalized, safe or latest" },
  "subscribe-confirmations": { env: "CHAINMAIL_SUBSCRIBE_CONFIRMATIONS", value: "N", default: String(CONFIG_DEFAULTS.subscribeConfirmations), description: "depth below the head Subscribe keeps when its finality is latest" },
  "max-subscribe-streams": { env: "CHAINMAIL_MAX_SUBSCRIBE_STREAMS", value: "N", default: String(CONFIG_DEFAULTS.maxSubscribeStreams), description: "Subscribe streams open at once on this relayer; beyond it RESOURCE_EXHAUSTED TooManyStreams (0 = no bound)" },
  "max-subscribe-streams-per-client": { env: "CHAINMAIL_MAX_SUBSCRIBE_STREAMS_PER_CLIENT", value: "N", default: String(CONFIG_DEFAULTS.maxSubscribeStreamsPerClient), description: "Subscribe streams open at once per client address; beyond it RESOURCE_EXHAUSTED TooManyStreams (0 = no bound)" },
  "shutdown-timeout-ms": { env: "CHAINMAIL_SHUTDOWN_TIMEOUT_MS", value: "MS", default: String(CONFIG_DEFAULTS.shutdownTimeoutMs), description: "longest graceful shutdown waits for in-flight transactions" },
  "log-level": { env: "CHAINMAIL_LOG_LEVEL", value: "LEVEL", default: CONFIG_DEFAULTS.logLevel, description: `pino log level (${LOG_LEVELS.join(", ")})` },
  "precheck-mode": { env: "CHAINMAIL_PRECHECK_MODE", value: "MODE", default: CONFIG_DEFAULTS.precheckMode, description: "probe (one batched eth_call for nonces and memberships) or calls (per message; used automatically if the node cannot run the probe)" },
  "kafka-brokers": { env: "KAFKA_BROKERS", value: "HOST:PORT,...", default: "(none: no subscriptions or deliveries)", description: "Kafka brokers for team subscriptions and delivery confirmation" },
  "messages-topic": { env: "CHAINMAIL_MESSAGES_TOPIC", value: "NAME", default: CONFIG_DEFAULTS.messagesTopic, description: "the mirror's message topic (deliveries are read there)" },
  "subscriptions-topic": { env: "CHAINMAIL_SUBSCRIPTIONS_TOPIC", value: "NAME", default: CONFIG_DEFAULTS.subscriptionsTopic, description: "compacted topic holding the teams' subscriptions" },
  "subscriptions-token": { env: "CHAINMAIL_SUBSCRIPTIONS_TOKEN", envOnly: true, default: "(none: loopback clients only)", description: "bearer token required to subscribe or unsubscribe a team" },
  "max-pending": { env: "CHAINMAIL_MAX_PENDING", value: "N", default: String(CONFIG_DEFAULTS.maxPending), description: "messages accepted and not yet settled; beyond it 503 Overloaded (0 = no bound)" },
  "max-prechecks": { env: "CHAINMAIL_MAX_PRECHECKS", value: "N", default: String(CONFIG_DEFAULTS.maxPrechecks), description: "pre-checks waiting on the chain at once; beyond it 503 Overloaded (0 = no bound)" },
  "max-event-loop-delay-ms": { env: "CHAINMAIL_MAX_EVENT_LOOP_DELAY_MS", value: "MS", default: String(CONFIG_DEFAULTS.maxEventLoopDelayMs), description: "event-loop delay above which new requests get 503 Overloaded (0 = not watched)" },
  "precheck-timeout-ms": { env: "CHAINMAIL_PRECHECK_TIMEOUT_MS", value: "MS", default: String(CONFIG_DEFAULTS.precheckTimeoutMs), description: "longest a pre-check waits on the chain before 503 ChainUnavailable" },
  "rpc-timeout-ms": { env: "CHAINMAIL_RPC_TIMEOUT_MS", value: "MS", default: String(CONFIG_DEFAULTS.rpcTimeoutMs), description: "timeout of every JSON-RPC call" },
  "journal-dir": { env: "CHAINMAIL_JOURNAL_DIR", value: "DIR", default: DEFAULT_JOURNAL_DIR, description: "directory of the write-ahead journal that makes a 202 survive a crash (one file per registry deployment and signer; none: no journal)" },
  "max-batch-gas": { env: "CHAINMAIL_MAX_BATCH_GAS", value: "GAS", default: String(CONFIG_DEFAULTS.maxBatchGas), description: "most gas one batch transaction asks for; the block gas limit and the 16,777,216 per-transaction cap (EIP-7825) bound it too" },
};

/** Environment variable -> default -> what it sets, for the docs. */
export const ENV_VARIABLES: Array<[string, string, string]> = Object.values(RELAYER_OPTIONS).map((o) => [o.env!, o.default!, o.description]);

export class ConfigError extends InputError {
  override name = "ConfigError";

  constructor(problems: string[]) {
    super(problems, `The relayer configuration is not valid:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
  }
}

type Env = Record<string, string | undefined>;

/**
 * The keys' text from CHAINMAIL_SIGNER_KEYS or from the file CHAINMAIL_SIGNER_KEYS_FILE
 * names (one of the two). The file is how a Kubernetes pod gets its own keys: the chart
 * mounts a Secret and points each StatefulSet pod at the entry named after the pod.
 */
function readSignerKeys(read: OptionReader): string {
  const file = read.string("signer-keys-file");
  if (file === undefined) return read.required("signer-keys", "a comma-separated list of 0x-prefixed 32-byte private keys (or set CHAINMAIL_SIGNER_KEYS_FILE)") ?? "";
  if (read.has("signer-keys")) {
    read.problem("CHAINMAIL_SIGNER_KEYS and CHAINMAIL_SIGNER_KEYS_FILE are both set; set one of them.");
    return "";
  }
  try {
    const text = readFileSync(file, "utf8");
    if (text.trim() === "") read.problem(`CHAINMAIL_SIGNER_KEYS_FILE ${file} is empty; it must hold the signer keys.`);
    return text;
  } catch (error) {
    read.problem(`CHAINMAIL_SIGNER_KEYS_FILE ${file} cannot be read (${(error as NodeJS.ErrnoException).code ?? String(error)}); it must be a file holding the signer keys.`);
    return "";
  }
}

/**
 * Reads and validates the configuration from the environment and, when `argv` is given
 * (`chainmail relayer --port 8081`), from flags too, a flag winning over its variable.
 * Throws ConfigError listing every problem.
 */
export function loadConfig(env: Env = process.env, argv?: string[]): RelayerConfig {
  const read = new OptionReader(RELAYER_OPTIONS, { env, argv });
  const integer = (name: string, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number =>
    read.integer(name, { min, max }) ?? fallback;

  const rpcUrl = read.required("rpc-url", "the chain's JSON-RPC URL, such as http://127.0.0.1:8545") ?? "";
  read.check("rpc-url", (v) => /^(https?|wss?):\/\/\S+$/.test(v), "an http(s):// or ws(s):// URL");
  let registryAddress = read.required("registry", "the MessageRegistry contract address (0x followed by 40 hex digits)") ?? "";
  if (read.check("registry", isAddress, "an address (0x followed by 40 hex digits)")) registryAddress = getAddress(registryAddress.toLowerCase());
  const keysText = readSignerKeys(read);
  const signerKeys = keysText
    .split(/[,\n]/)
    .map((k) => k.trim())
    .filter(Boolean);
  signerKeys.forEach((key, i) => {
    // Never echo a key back, not even a wrong one: logs outlive secrets.
    if (!/^0x[0-9a-fA-F]{64}$/.test(key)) {
      read.problem(`CHAINMAIL_SIGNER_KEYS entry ${i + 1} is not a 0x-prefixed 32-byte hex private key.`);
    } else {
      try {
        new Wallet(key);
      } catch {
        read.problem(`CHAINMAIL_SIGNER_KEYS entry ${i + 1} is not a valid secp256k1 private key.`);
      }
    }
  });
  if (new Set(signerKeys.map((k) => k.toLowerCase())).size !== signerKeys.length) {
    read.problem("CHAINMAIL_SIGNER_KEYS lists the same key twice; each lane needs its own key (two lanes sharing a key would fight over nonces).");
  }

  const gasMode = read.oneOf("gas-mode", ["auto", "eip1559", "legacy", "zero"] as const) ?? CONFIG_DEFAULTS.gasMode;
  const logLevel = read.oneOf("log-level", LOG_LEVELS) ?? CONFIG_DEFAULTS.logLevel;
  const precheckMode = read.oneOf("precheck-mode", ["probe", "calls"] as const) ?? CONFIG_DEFAULTS.precheckMode;
  const subscribeFinality = read.oneOf("subscribe-finality", FINALITIES) ?? CONFIG_DEFAULTS.subscribeFinality;
  const minBalance = read.check("min-signer-balance-wei", (v) => /^\d+$/.test(v), "a whole number of wei");
  const minSignerBalanceWei = minBalance !== undefined ? BigInt(minBalance) : CONFIG_DEFAULTS.minSignerBalanceWei;

  const config: RelayerConfig = {
    rpcUrl,
    registryAddress,
    signerKeys,
    host: read.string("host") ?? CONFIG_DEFAULTS.host,
    port: integer("port", CONFIG_DEFAULTS.port, 0, 65535),
    grpcPort: integer("grpc-port", CONFIG_DEFAULTS.grpcPort, 0, 65535),
    batchMaxSize: integer("batch-max", CONFIG_DEFAULTS.batchMaxSize, 1, 1000),
    batchMaxWaitMs: integer("batch-wait-ms", CONFIG_DEFAULTS.batchMaxWaitMs, 0, 60_000),
    maxInFlightPerSigner: integer("max-inflight-per-signer", CONFIG_DEFAULTS.maxInFlightPerSigner, 1, 64),
    waitTimeoutMs: integer("wait-timeout-ms", CONFIG_DEFAULTS.waitTimeoutMs, 0, 600_000),
    httpBodyLimitBytes: integer("http-body-limit", CONFIG_DEFAULTS.httpBodyLimitBytes, 1024, 16 * 1024 * 1024),
    rateLimitAuthorPerSecond: integer("rate-author-per-s", CONFIG_DEFAULTS.rateLimitAuthorPerSecond, 0),
    rateLimitAuthorBurst: integer("rate-author-burst", CONFIG_DEFAULTS.rateLimitAuthorBurst, 1),
    rateLimitClientPerSecond: integer("rate-client-per-s", CONFIG_DEFAULTS.rateLimitClientPerSecond, 0),
    rateLimitClientBurst: integer("rate-client-burst", CONFIG_DEFAULTS.rateLimitClientBurst, 1),
    gasMode,
    replaceAfterMs: integer("replace-after-ms", CONFIG_DEFAULTS.replaceAfterMs, 100),
    feeBumpPercent: integer("fee-bump-percent", CONFIG_DEFAULTS.feeBumpPercent, 10, 1000),
    receiptPollMs: integer("receipt-poll-ms", CONFIG_DEFAULTS.receiptPollMs, 10, 60_000),
    cacheTtlMs: integer("cache-ttl-ms", CONFIG_DEFAULTS.cacheTtlMs, 0, 3_600_000),
    minSignerBalanceWei,
    outcomeIndexSize: integer("outcome-index-size", CONFIG_DEFAULTS.outcomeIndexSize, 100),
    indexLookbackBlocks: integer("index-lookback-blocks", CONFIG_DEFAULTS.indexLookbackBlocks, 0),
    logChunkBlocks: integer("log-chunk-blocks", CONFIG_DEFAULTS.logChunkBlocks, 1),
    subscribeFinality,
    subscribeConfirmations: integer("subscribe-confirmations", CONFIG_DEFAULTS.subscribeConfirmations, 0, 10_000),
    maxSubscribeStreams: integer("max-subscribe-streams", CONFIG_DEFAULTS.maxSubscribeStreams, 0),
    maxSubscribeStreamsPerClient: integer("max-subscribe-streams-per-client", CONFIG_DEFAULTS.maxSubscribeStreamsPerClient, 0),
    shutdownTimeoutMs: integer("shutdown-timeout-ms", CONFIG_DEFAULTS.shutdownTimeoutMs, 0, 600_000),
    logLevel,
    precheckMode,
    maxBatchGas: integer("max-batch-gas", CONFIG_DEFAULTS.maxBatchGas, 500_000, 1_000_000_000),
    maxPending: integer("max-pending", CONFIG_DEFAULTS.maxPending, 0),
    maxPrechecks: integer("max-prechecks", CONFIG_DEFAULTS.maxPrechecks, 0),
    maxEventLoopDelayMs: integer("max-event-loop-delay-ms", CONFIG_DEFAULTS.maxEventLoopDelayMs, 0, 60_000),
    precheckTimeoutMs: integer("precheck-timeout-ms", CONFIG_DEFAULTS.precheckTimeoutMs, 100, 600_000),
    rpcTimeoutMs: integer("rpc-timeout-ms", CONFIG_DEFAULTS.rpcTimeoutMs, 100, 600_000),
    kafkaBrokers: read.string("kafka-brokers") ? read.brokers("kafka-brokers", "") : [],
    messagesTopic: read.string("messages-topic") ?? CONFIG_DEFAULTS.messagesTopic,
    subscriptionsTopic: read.string("subscriptions-topic") ?? CONFIG_DEFAULTS.subscriptionsTopic,
    subscriptionsToken: read.string("subscriptions-token") || undefined,
    journalDir: journalDirFrom(read.string("journal-dir") ?? DEFAULT_JOURNAL_DIR),
  };
  if (config.subscriptionsToken !== undefined && config.subscriptionsToken.length < 16) read.problem("CHAINMAIL_SUBSCRIPTIONS_TOKEN is shorter than 16 characters; use a long random token.");
  if (read.problems.length > 0) throw new ConfigError(read.problems);
  return config;
}

function journalDirFrom(value: string): string | undefined {
  return value === "none" ? undefined : path.resolve(value);
}

/** A full config from code (tests, benchmarks): defaults plus what is given. */
export function configFrom(
  partial: Partial<RelayerConfig> & Pick<RelayerConfig, "rpcUrl" | "registryAddress" | "signerKeys">,
): RelayerConfig {
  return { ...CONFIG_DEFAULTS, logLevel: "silent", ...partial };
}
