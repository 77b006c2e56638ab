/**
 * `hardhat chainmail audit`: the same audit as the standalone `chainmail audit`, on the
 * network chosen with --network. Exit status 0 clean, 1 discrepancies found, 2 wrong input
 * or the audit could not run (each with one sentence).
 *
 * Unlike the other tasks, wrong input here is not thrown as a plugin error: Hardhat exits
 * 1 for any thrown error, and 1 means "discrepancies found" to the scripts that run audits.
 */
import type { HardhatRuntimeEnvironment } from "hardhat/types/hre";
import { isAddress } from "ethers";
import { ChainLogSource, DEFAULT_MESSAGES_TOPIC, EXIT_USAGE, runAudit } from "@chainmail/audit";
import { connectRegistry, UserError } from "./support.js";

interface AuditArgs {
  registry: string;
  channels: string;
  brokers: string;
  topic: string;
  kafkaConfirmations: number;
  json: boolean;
  export: string;
  out: string;
  toBlock: number;
  progressEvery: number;
  workers: number;
  recovery: string;
}

// Hardhat turns a `{ success: false }` result into exit status 1; the audit's statuses
// (0 clean, 1 discrepancies, 2 wrong input) are set on process.exitCode instead.
function usage(sentence: string): void {
  console.error(`chainmail audit: ${sentence}`);
  process.exitCode = EXIT_USAGE;
}

export default async function auditTask(args: AuditArgs, hre: HardhatRuntimeEnvironment): Promise<void> {
  if (args.export !== "" && args.export !== "jsonl" && args.export !== "csv") return usage(`--export must be jsonl or csv, not "${args.export}".`);
  if ((args.export === "") !== (args.out === "")) return usage("--export and --out go together.");
  if (args.recovery !== "" && !["native", "noble", "ethers"].includes(args.recovery)) return usage(`--recovery must be native, noble or ethers, not "${args.recovery}".`);
  if (args.registry !== "" && !isAddress(args.registry)) return usage(`--registry "${args.registry}" is not an Ethereum address.`);
  if (args.kafkaConfirmations < 0 || args.progressEvery < 0 || args.toBlock < -1 || args.workers < -1) return usage("Numbers must not be negative.");

  let address: string;
  let provider;
  try {
    const connected = await connectRegistry(hre, args.registry);
    address = connected.address;
    provider = connected.connection.ethers.provider;
  } catch (error) {
    if (error instanceof UserError) return usage(error.message);
    throw error;
  }
  const kafkaWanted = args.brokers !== "" || args.topic !== "";
  const brokers = (args.brokers || process.env.KAFKA_BROKERS || "127.0.0.1:9092").split(",").map((b) => b.trim()).filter(Boolean);
  const code = await runAudit({
    source: new ChainLogSource(provider as never, address, { toBlock: args.toBlock >= 0 ? args.toBlock : undefined }),
    channels: args.channels ? args.channels.split(",").map((c) => c.trim()).filter(Boolean) : undefined,
    kafka: kafkaWanted ? { brokers, topic: args.topic || DEFAULT_MESSAGES_TOPIC, confirmations: args.kafkaConfirmations } : undefined,
    json: args.json,
    export: args.export ? { format: args.export as "jsonl" | "csv", file: args.out } : undefined,
    progressEvery: args.progressEvery,
    workers: args.workers >= 0 ? args.workers : undefined,
    recovery: (args.recovery || undefined) as "native" | "noble" | "ethers" | undefined,
  });
  process.exitCode = code;
}
