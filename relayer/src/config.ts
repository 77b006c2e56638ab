/**
 * The relayer's configuration: read from the environment once, validated at start.
 * Every wrong setting gets one sentence naming the variable, so an operator can fix
 * them all in one go instead of one crash at a time.
 */
import { getAddress, isAddress, Wallet } from "ethers";

export type GasMode = "auto" | "eip1559" | "legacy" | "zero";

export interface RelayerConfig {
  rpcUrl: string;
  registryAddress: string;
  /** Private keys that pay for `postBatch` transactions; each one is an independent lane. */
  signerKeys: string[];
  host: string;
  port: number;
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
  /** Graceful shutdown waits at most this long for in-flight transactions. */
  shutdownTimeoutMs: number;
  logLevel: string;
  /**
   * "probe": signature, nonce and membership checks of concurrent requests are answered
   * together by one eth_call (the node's native ecrecover); "calls": per message, in
   * JavaScript and with one eth_call each (slower; for nodes that cannot run the probe).
   */
  precheckMode: "probe" | "calls";
  /** A batch is cut before its gas bound would pass this (stays under block and tx caps). */
  maxBatchGas: number;
}

export const CONFIG_DEFAULTS = {
  host: "127.0.0.1",
  port: 8080,
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
  shutdownTimeoutMs: 20_000,
  logLevel: "info",
  precheckMode: "probe" as "probe" | "calls",
  maxBatchGas: 15_000_000,
} satisfies Partial<RelayerConfig>;

/** Environment variable -> what it sets, for the docs and `chainmail relayer --help`. */
export const ENV_VARIABLES: Array<[string, string, string]> = [
  ["CHAINMAIL_RPC_URL", "(required)", "JSON-RPC URL of the chain"],
  ["CHAINMAIL_REGISTRY", "(required)", "MessageRegistry address"],
  ["CHAINMAIL_SIGNER_KEYS", "(required)", "comma-separated private keys that pay for postBatch; one lane each"],
  ["CHAINMAIL_HOST", CONFIG_DEFAULTS.host, "address to listen on"],
  ["CHAINMAIL_PORT", String(CONFIG_DEFAULTS.port), "port to listen on (0 = any free port)"],
  ["CHAINMAIL_BATCH_MAX", String(CONFIG_DEFAULTS.batchMaxSize), "messages per postBatch transaction (1 = no batching)"],
  ["CHAINMAIL_BATCH_WAIT_MS", String(CONFIG_DEFAULTS.batchMaxWaitMs), "longest a message waits for its batch to fill"],
  ["CHAINMAIL_MAX_INFLIGHT_PER_SIGNER", String(CONFIG_DEFAULTS.maxInFlightPerSigner), "unconfirmed transactions per signer"],
  ["CHAINMAIL_WAIT_TIMEOUT_MS", String(CONFIG_DEFAULTS.waitTimeoutMs), "how long ?wait=true holds a request before a 202"],
  ["CHAINMAIL_HTTP_BODY_LIMIT", String(CONFIG_DEFAULTS.httpBodyLimitBytes), "largest HTTP request body in bytes (413 above)"],
  ["CHAINMAIL_RATE_AUTHOR_PER_S", String(CONFIG_DEFAULTS.rateLimitAuthorPerSecond), "messages per second per author (0 = off)"],
  ["CHAINMAIL_RATE_AUTHOR_BURST", String(CONFIG_DEFAULTS.rateLimitAuthorBurst), "burst per author"],
  ["CHAINMAIL_RATE_CLIENT_PER_S", String(CONFIG_DEFAULTS.rateLimitClientPerSecond), "requests per second per client address (0 = off)"],
  ["CHAINMAIL_RATE_CLIENT_BURST", String(CONFIG_DEFAULTS.rateLimitClientBurst), "burst per client address"],
  ["CHAINMAIL_GAS_MODE", CONFIG_DEFAULTS.gasMode, "auto, eip1559, legacy or zero (zero-gas-price private chains)"],
  ["CHAINMAIL_REPLACE_AFTER_MS", String(CONFIG_DEFAULTS.replaceAfterMs), "re-send a transaction with a bumped fee after this long"],
  ["CHAINMAIL_FEE_BUMP_PERCENT", String(CONFIG_DEFAULTS.feeBumpPercent), "fee increase per replacement (at least 10)"],
  ["CHAINMAIL_RECEIPT_POLL_MS", String(CONFIG_DEFAULTS.receiptPollMs), "receipt polling interval"],
  ["CHAINMAIL_CACHE_TTL_MS", String(CONFIG_DEFAULTS.cacheTtlMs), "how long membership/channel/limits answers are reused"],
  ["CHAINMAIL_MIN_SIGNER_BALANCE_WEI", String(CONFIG_DEFAULTS.minSignerBalanceWei), "balance a signer needs for /readyz (ignored when gas is free)"],
  ["CHAINMAIL_OUTCOME_INDEX_SIZE", String(CONFIG_DEFAULTS.outcomeIndexSize), "outcomes kept in memory (digest -> outcome)"],
  ["CHAINMAIL_INDEX_LOOKBACK_BLOCKS", String(CONFIG_DEFAULTS.indexLookbackBlocks), "blocks of logs read at start to rebuild the index"],
  ["CHAINMAIL_LOG_CHUNK_BLOCKS", String(CONFIG_DEFAULTS.logChunkBlocks), "blocks per eth_getLogs request"],
  ["CHAINMAIL_SHUTDOWN_TIMEOUT_MS", String(CONFIG_DEFAULTS.shutdownTimeoutMs), "longest graceful shutdown waits for in-flight transactions"],
  ["CHAINMAIL_LOG_LEVEL", CONFIG_DEFAULTS.logLevel, "pino log level (fatal, error, warn, info, debug, trace, silent)"],
  ["CHAINMAIL_PRECHECK_MODE", CONFIG_DEFAULTS.precheckMode, "probe (one batched eth_call, the node's native ecrecover) or calls (per message; used automatically if the node cannot run the probe)"],
  ["CHAINMAIL_MAX_BATCH_GAS", String(CONFIG_DEFAULTS.maxBatchGas), "gas bound at which a batch is cut (below the block and transaction gas caps)"],
];

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`The relayer configuration is not valid:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.name = "ConfigError";
  }
}

type Env = Record<string, string | undefined>;

/** Reads and validates the configuration; throws ConfigError listing every problem. */
export function loadConfig(env: Env = process.env): RelayerConfig {
  const problems: string[] = [];
  const text = (name: string): string | undefined => {
    const value = env[name]?.trim();
    return value === "" ? undefined : value;
  };
  const required = (name: string, what: string): string => {
    const value = text(name);
    if (value === undefined) problems.push(`${name} is not set; it must be ${what}.`);
    return value ?? "";
  };
  const integer = (name: string, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number => {
    const value = text(name);
    if (value === undefined) return fallback;
    if (!/^\d+$/.test(value) || Number(value) < min || Number(value) > max) {
      problems.push(`${name} is "${value}"; it must be a whole number from ${min} to ${max}.`);
      return fallback;
    }
    return Number(value);
  };

  const rpcUrl = required("CHAINMAIL_RPC_URL", "the chain's JSON-RPC URL, such as http://127.0.0.1:8545");
  if (rpcUrl && !/^(https?|wss?):\/\/\S+$/.test(rpcUrl)) {
    problems.push(`CHAINMAIL_RPC_URL is "${rpcUrl}"; it must be an http(s):// or ws(s):// URL.`);
  }
  let registryAddress = required("CHAINMAIL_REGISTRY", "the MessageRegistry contract address (0x followed by 40 hex digits)");
  if (registryAddress) {
    if (isAddress(registryAddress)) registryAddress = getAddress(registryAddress.toLowerCase());
    else problems.push(`CHAINMAIL_REGISTRY is "${registryAddress}"; it must be an address (0x followed by 40 hex digits).`);
  }
  const keysText = required("CHAINMAIL_SIGNER_KEYS", "a comma-separated list of 0x-prefixed 32-byte private keys");
  const signerKeys = keysText
    .split(",")
    .map((k) => k.trim())
    .filter(Boolean);
  signerKeys.forEach((key, i) => {
    // Never echo a key back, not even a wrong one: logs outlive secrets.
    if (!/^0x[0-9a-fA-F]{64}$/.test(key)) {
      problems.push(`CHAINMAIL_SIGNER_KEYS entry ${i + 1} is not a 0x-prefixed 32-byte hex private key.`);
    } else {
      try {
        new Wallet(key);
      } catch {
        problems.push(`CHAINMAIL_SIGNER_KEYS entry ${i + 1} is not a valid secp256k1 private key.`);
      }
    }
  });
  if (new Set(signerKeys.map((k) => k.toLowerCase())).size !== signerKeys.length) {
    problems.push("CHAINMAIL_SIGNER_KEYS lists the same key twice; each lane needs its own key (two lanes sharing a key would fight over nonces).");
  }

  const gasMode = (text("CHAINMAIL_GAS_MODE") ?? CONFIG_DEFAULTS.gasMode) as GasMode;
  if (!["auto", "eip1559", "legacy", "zero"].includes(gasMode)) {
    problems.push(`CHAINMAIL_GAS_MODE is "${gasMode}"; it must be one of auto, eip1559, legacy, zero.`);
  }
  const logLevel = text("CHAINMAIL_LOG_LEVEL") ?? CONFIG_DEFAULTS.logLevel;
  if (!["fatal", "error", "warn", "info", "debug", "trace", "silent"].includes(logLevel)) {
    problems.push(`CHAINMAIL_LOG_LEVEL is "${logLevel}"; it must be one of fatal, error, warn, info, debug, trace, silent.`);
  }
  const precheckMode = (text("CHAINMAIL_PRECHECK_MODE") ?? CONFIG_DEFAULTS.precheckMode) as "probe" | "calls";
  if (!["probe", "calls"].includes(precheckMode)) {
    problems.push(`CHAINMAIL_PRECHECK_MODE is "${precheckMode}"; it must be probe or calls.`);
  }
  let minSignerBalanceWei = CONFIG_DEFAULTS.minSignerBalanceWei;
  const minBalance = text("CHAINMAIL_MIN_SIGNER_BALANCE_WEI");
  if (minBalance !== undefined) {
    if (/^\d+$/.test(minBalance)) minSignerBalanceWei = BigInt(minBalance);
    else problems.push(`CHAINMAIL_MIN_SIGNER_BALANCE_WEI is "${minBalance}"; it must be a whole number of wei.`);
  }

  const config: RelayerConfig = {
    rpcUrl,
    registryAddress,
    signerKeys,
    host: text("CHAINMAIL_HOST") ?? CONFIG_DEFAULTS.host,
    port: integer("CHAINMAIL_PORT", CONFIG_DEFAULTS.port, 0, 65535),
    batchMaxSize: integer("CHAINMAIL_BATCH_MAX", CONFIG_DEFAULTS.batchMaxSize, 1, 1000),
    batchMaxWaitMs: integer("CHAINMAIL_BATCH_WAIT_MS", CONFIG_DEFAULTS.batchMaxWaitMs, 0, 60_000),
    maxInFlightPerSigner: integer("CHAINMAIL_MAX_INFLIGHT_PER_SIGNER", CONFIG_DEFAULTS.maxInFlightPerSigner, 1, 64),
    waitTimeoutMs: integer("CHAINMAIL_WAIT_TIMEOUT_MS", CONFIG_DEFAULTS.waitTimeoutMs, 0, 600_000),
    httpBodyLimitBytes: integer("CHAINMAIL_HTTP_BODY_LIMIT", CONFIG_DEFAULTS.httpBodyLimitBytes, 1024, 16 * 1024 * 1024),
    rateLimitAuthorPerSecond: integer("CHAINMAIL_RATE_AUTHOR_PER_S", CONFIG_DEFAULTS.rateLimitAuthorPerSecond, 0),
    rateLimitAuthorBurst: integer("CHAINMAIL_RATE_AUTHOR_BURST", CONFIG_DEFAULTS.rateLimitAuthorBurst, 1),
    rateLimitClientPerSecond: integer("CHAINMAIL_RATE_CLIENT_PER_S", CONFIG_DEFAULTS.rateLimitClientPerSecond, 0),
    rateLimitClientBurst: integer("CHAINMAIL_RATE_CLIENT_BURST", CONFIG_DEFAULTS.rateLimitClientBurst, 1),
    gasMode,
    replaceAfterMs: integer("CHAINMAIL_REPLACE_AFTER_MS", CONFIG_DEFAULTS.replaceAfterMs, 100),
    feeBumpPercent: integer("CHAINMAIL_FEE_BUMP_PERCENT", CONFIG_DEFAULTS.feeBumpPercent, 10, 1000),
    receiptPollMs: integer("CHAINMAIL_RECEIPT_POLL_MS", CONFIG_DEFAULTS.receiptPollMs, 10, 60_000),
    cacheTtlMs: integer("CHAINMAIL_CACHE_TTL_MS", CONFIG_DEFAULTS.cacheTtlMs, 0, 3_600_000),
    minSignerBalanceWei,
    outcomeIndexSize: integer("CHAINMAIL_OUTCOME_INDEX_SIZE", CONFIG_DEFAULTS.outcomeIndexSize, 100),
    indexLookbackBlocks: integer("CHAINMAIL_INDEX_LOOKBACK_BLOCKS", CONFIG_DEFAULTS.indexLookbackBlocks, 0),
    logChunkBlocks: integer("CHAINMAIL_LOG_CHUNK_BLOCKS", CONFIG_DEFAULTS.logChunkBlocks, 1),
    shutdownTimeoutMs: integer("CHAINMAIL_SHUTDOWN_TIMEOUT_MS", CONFIG_DEFAULTS.shutdownTimeoutMs, 0, 600_000),
    logLevel,
    precheckMode,
    maxBatchGas: integer("CHAINMAIL_MAX_BATCH_GAS", CONFIG_DEFAULTS.maxBatchGas, 500_000, 1_000_000_000),
  };
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}

/** A full config from code (tests, benchmarks): defaults plus what is given. */
export function configFrom(
  partial: Partial<RelayerConfig> & Pick<RelayerConfig, "rpcUrl" | "registryAddress" | "signerKeys">,
): RelayerConfig {
  return { ...CONFIG_DEFAULTS, logLevel: "silent", ...partial };
}
