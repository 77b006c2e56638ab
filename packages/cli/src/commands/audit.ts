/**
 * `chainmail audit`: verifies a registry's whole record from its contract events, and
 * optionally the mirror's Kafka topic against it. Exit 0 clean, 1 discrepancies, 2 wrong
 * input or nothing to audit.
 */
import { isAddress } from "ethers";
import { parseArgs } from "node:util";
import { ChainLogSource, DEFAULT_MESSAGES_TOPIC, EXIT_USAGE, runAudit } from "@chainmail/audit";

const USAGE = `Usage: chainmail audit --rpc URL --registry 0x... [options]

Rebuilds every channel from the registry's MessagePosted events and checks: seq 1..n
without gaps, repeats or reordering; every digest and head recomputed, the last head and
seq against the contract's stored ones; every signature recovered and compared with its
author (contract wallets: EIP-1271 isValidSignature at the message's block); every
author a member of the channel at that block (RoleGranted/RoleRevoked history).

Options:
  --rpc URL                JSON-RPC endpoint (default: CHAINMAIL_RPC_URL)
  --registry ADDRESS       MessageRegistry address (default: CHAINMAIL_REGISTRY)
  --channel NAME           audit only this channel (repeatable; name or 0x id)
  --brokers HOST:PORT,...  also compare with Kafka (default when --topic is given: KAFKA_BROKERS or 127.0.0.1:9092)
  --topic NAME             the mirror's message topic (default ${DEFAULT_MESSAGES_TOPIC})
  --kafka-confirmations N  messages in the last N blocks may be missing from Kafka (default 0)
  --to-block N             audit up to block N (default: the latest block)
  --block-range N          blocks per eth_getLogs request (default 10000, halved if refused)
  --json                   print the full report as JSON
  --export jsonl|csv       write every message with its verification status...
  --out FILE               ...to FILE
  --progress-every N       progress on stderr every N messages (default 10000, 0 = off)
  --workers N              worker threads for signature recovery (default: all cores for large audits)
  --recovery native|noble|ethers  secp256k1 implementation (default native libsecp256k1, else noble)
  -h, --help               this text

Exit status: 0 clean, 1 discrepancies found, 2 wrong input or the audit could not run.`;

function fail(sentence: string): number {
  console.error(`chainmail audit: ${sentence} Run "chainmail audit --help" for the options.`);
  return EXIT_USAGE;
}

function positiveInt(value: string | undefined, name: string, min = 0): number | undefined | Error {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value) || Number(value) < min) return new Error(`--${name} must be a whole number${min ? ` of at least ${min}` : ""}, not "${value}".`);
  return Number(value);
}

export async function run(argv: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      allowPositionals: false,
      options: {
        rpc: { type: "string" },
        registry: { type: "string" },
        channel: { type: "string", multiple: true },
        brokers: { type: "string" },
        topic: { type: "string" },
        "kafka-confirmations": { type: "string" },
        "to-block": { type: "string" },
        "block-range": { type: "string" },
        json: { type: "boolean", default: false },
        export: { type: "string" },
        out: { type: "string" },
        "progress-every": { type: "string" },
        workers: { type: "string" },
        recovery: { type: "string" },
        help: { type: "boolean", short: "h", default: false },
      },
    }));
  } catch (error) {
    return fail(`${(error as Error).message.split("\n")[0]}`);
  }
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const rpc = values.rpc ?? process.env.CHAINMAIL_RPC_URL;
  const registry = values.registry ?? process.env.CHAINMAIL_REGISTRY;
  if (!rpc) return fail("--rpc is required (or set CHAINMAIL_RPC_URL).");
  if (!/^https?:\/\/|^wss?:\/\//.test(rpc)) return fail(`--rpc must be an http(s) or ws(s) URL, not "${rpc}".`);
  if (!registry) return fail("--registry is required (or set CHAINMAIL_REGISTRY).");
  if (!isAddress(registry)) return fail(`--registry "${registry}" is not an Ethereum address.`);
  if (values.export !== undefined && values.export !== "jsonl" && values.export !== "csv") return fail(`--export must be jsonl or csv, not "${values.export}".`);
  if ((values.export === undefined) !== (values.out === undefined)) return fail("--export and --out go together.");
  if (values.recovery !== undefined && !["native", "noble", "ethers"].includes(values.recovery)) {
    return fail(`--recovery must be native, noble or ethers, not "${values.recovery}".`);
  }
  const numbers: Record<string, number | undefined> = {};
  for (const [name, min] of [["kafka-confirmations", 0], ["to-block", 0], ["block-range", 1], ["progress-every", 0], ["workers", 0]] as const) {
    const parsed = positiveInt(values[name], name, min);
    if (parsed instanceof Error) return fail(parsed.message);
    numbers[name] = parsed;
  }
  const kafkaWanted = values.brokers !== undefined || values.topic !== undefined;
  const brokers = (values.brokers ?? process.env.KAFKA_BROKERS ?? "127.0.0.1:9092").split(",").map((b) => b.trim()).filter(Boolean);
  if (kafkaWanted && (brokers.length === 0 || brokers.some((b) => !/^[^:\s]+:\d+$/.test(b)))) {
    return fail(`--brokers must be HOST:PORT[,HOST:PORT...], not "${values.brokers}".`);
  }

  return runAudit({
    source: () => ChainLogSource.fromUrl(rpc, registry, { blockRange: numbers["block-range"], toBlock: numbers["to-block"] }),
    channels: values.channel,
    kafka: kafkaWanted ? { brokers, topic: values.topic ?? DEFAULT_MESSAGES_TOPIC, confirmations: numbers["kafka-confirmations"] } : undefined,
    json: values.json,
    export: values.export ? { format: values.export as "jsonl" | "csv", file: values.out! } : undefined,
    progressEvery: numbers["progress-every"],
    workers: numbers.workers,
    recovery: values.recovery as "native" | "noble" | "ethers" | undefined,
  });
}
