/**
 * `chainmail audit`: verifies a registry's whole record from its contract events, and
 * optionally the mirror's Kafka topic against it. Exit 0 clean, 1 discrepancies, 2 wrong
 * input or nothing to audit.
 */
import { isAddress } from "ethers";
import { ChainLogSource, DEFAULT_MESSAGES_TOPIC, parseCheckpoint, runAudit, type Checkpoint } from "@chainmail/audit";
import { cliVersion } from "../version.js";
import { ADDRESS, BROKERS, DEFAULT_BROKERS, readCommand, REGISTRY, refuse, RPC_URL, type Command } from "../options.js";

const COMMAND: Command = {
  name: "audit",
  synopsis: `Usage: chainmail audit --rpc-url URL [--rpc-url URL2 ...] --registry 0x... [--checkpoint BLOCK:HASH] [options]

Rebuilds every channel from the registry's MessagePosted events, up to a final block
(finalized, else safe, else latest minus --depth), and checks: seq 1..n without gaps,
repeats or reordering; every digest and head recomputed, the last head and seq against
the contract's stored ones, proven with eth_getProof against the block header's state
root; every signature recovered and compared with its author (contract wallets: EIP-1271
isValidSignature at the message's block); every author a member of the channel at that
block (RoleGranted/RoleRevoked history); every log's address, block hash and removed flag.
The header is trusted through --checkpoint, or through several --rpc-url that must agree.`,
  options: {
    "rpc-url": { ...RPC_URL["rpc-url"], multiple: true, description: "JSON-RPC endpoint; repeat it: the first gives the logs, all must agree on the audited block's header" },
    checkpoint: { value: "BLOCK:HASH", description: "audit up to BLOCK, whose header must hash to HASH (what the audit trusts)" },
    depth: { value: "N", default: "12", description: "blocks below the latest counted as final when the node knows neither finalized nor safe" },
    evidence: { value: "FILE", description: "write an evidence bundle that `chainmail verify-evidence` checks offline" },
    ...REGISTRY,
    channel: { multiple: true, value: "NAME", description: "audit only this channel (repeatable; name or 0x id)" },
    brokers: { ...BROKERS.brokers, description: "also compare with Kafka (used when --brokers or --topic is given)" },
    topic: { value: "NAME", default: DEFAULT_MESSAGES_TOPIC, description: "the mirror's message topic" },
    "kafka-confirmations": { value: "N", default: "0", description: "messages in the last N blocks may be missing from Kafka" },
    "to-block": { value: "N", default: "the latest block", description: "audit up to block N" },
    "block-range": { value: "N", default: "10000", description: "blocks per eth_getLogs request (halved if refused)" },
    json: { type: "boolean", description: "print the full report as JSON" },
    export: { value: "jsonl|csv", description: "write every message with its verification status..." },
    out: { value: "FILE", description: "...to FILE" },
    "progress-every": { value: "N", default: "10000", description: "progress on stderr every N messages (0 = off)" },
    workers: { value: "N", default: "all cores for large audits", description: "worker threads for signature recovery" },
    recovery: { value: "native|noble|ethers", default: "native libsecp256k1, else noble", description: "secp256k1 implementation" },
  },
  footer: "Exit status: 0 clean, 1 discrepancies found, 2 wrong input or the audit could not run.",
};

export async function run(argv: string[]): Promise<number> {
  const read = readCommand(COMMAND, argv);
  if (typeof read === "number") return read;
  let rpcUrls = read.strings("rpc-url");
  if (rpcUrls.length === 0) {
    const one = read.required("rpc-url", "the chain's JSON-RPC URL, such as http://127.0.0.1:8545");
    rpcUrls = one ? [one] : [];
  }
  // The shared reader's sentence, for each of the repeated values.
  for (const url of rpcUrls) if (!/^(http|https|ws|wss):\/\/\S+$/.test(url)) read.problem(`--rpc-url is "${url}"; it must be a URL starting with http:// or https:// or ws:// or wss://.`);
  let checkpoint: Checkpoint | undefined;
  const checkpointText = read.string("checkpoint");
  if (checkpointText !== undefined) {
    try {
      checkpoint = parseCheckpoint(checkpointText);
    } catch (error) {
      read.problem(`--checkpoint: ${(error as Error).message}`);
    }
  }
  const depth = read.integer("depth");
  const registry = read.required("registry", ADDRESS);
  read.check("registry", isAddress, ADDRESS);
  const exportFormat = read.oneOf("export", ["jsonl", "csv"] as const);
  if (read.has("export") !== read.has("out")) read.problem("--export and --out go together.");
  const recovery = read.oneOf("recovery", ["native", "noble", "ethers"] as const);
  const confirmations = read.integer("kafka-confirmations");
  const toBlock = read.integer("to-block");
  if (toBlock !== undefined && checkpointText !== undefined) read.problem("--to-block and --checkpoint both say which block to audit; give one.");
  const blockRange = read.integer("block-range", { min: 1 });
  const progressEvery = read.integer("progress-every");
  const workers = read.integer("workers");
  // Kafka is compared only when asked for on the command line; KAFKA_BROKERS alone does not ask.
  const kafkaWanted = read.flagged("brokers") || read.flagged("topic");
  const brokers = kafkaWanted ? read.brokers("brokers", DEFAULT_BROKERS) : [];
  if (read.problems.length > 0) return refuse(COMMAND, read.problems);

  return runAudit({
    source: () => ChainLogSource.fromUrls(rpcUrls, registry!, { blockRange, toBlock, checkpoint, depth }),
    evidence: read.string("evidence"),
    tool: `chainmail ${cliVersion()}`,
    channels: read.has("channel") ? read.strings("channel") : undefined,
    kafka: kafkaWanted ? { brokers, topic: read.string("topic") ?? DEFAULT_MESSAGES_TOPIC, confirmations } : undefined,
    json: read.boolean("json"),
    export: exportFormat ? { format: exportFormat, file: read.string("out")! } : undefined,
    progressEvery,
    workers,
    recovery,
  });
}
