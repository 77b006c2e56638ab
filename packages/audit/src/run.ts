/**
 * One audit run as the CLI and the Hardhat task both do it: verify, print the summary
 * (or the JSON report), export, and turn the outcome into an exit code:
 * 0 clean, 1 discrepancies found, 2 the audit could not run (wrong input, unreachable
 * node or broker) — each with one sentence on stderr.
 */
import { readFile } from "node:fs/promises";
import os from "node:os";
import { ChainMailError, channelId } from "@chainmail/protocol";
import { KafkaTopicReader } from "./kafka.js";
import type { AuditLogSource } from "./log-source.js";
import { exportMessages, summaryText, toJson, type ExportFormat } from "./report.js";
import type { RecoveryBackendName } from "@chainmail/protocol/signatures";
import { audit } from "./verifier.js";
import type { Checkpoint } from "./anchor.js";
import { MESSAGE_PROOF_FORMAT, messageProofText, verifyMessageProof, type MessageProof } from "./message-proof.js";
import { EvidenceError, EvidenceSource, evidenceOf, readEvidence, writeEvidence } from "./evidence.js";

export const EXIT_CLEAN = 0;
export const EXIT_DISCREPANCY = 1;
export const EXIT_USAGE = 2;

export interface RunAuditInput {
  /** The source, or how to open it (so that opening errors get the same one-sentence treatment). */
  source: AuditLogSource | (() => Promise<AuditLogSource>);
  /** Channel names or 0x ids. */
  channels?: string[];
  kafka?: { brokers: string[]; topic: string; confirmations?: number; timeoutMs?: number };
  json?: boolean;
  export?: { format: ExportFormat; file: string };
  progressEvery?: number;
  workers?: number;
  recovery?: RecoveryBackendName;
  /** Write an evidence bundle (see evidence.ts) to this file. */
  evidence?: string;
  /** Names the tool in the bundle's manifest. */
  tool?: string;
}

export interface Output {
  out(text: string): void;
  err(text: string): void;
}

const consoleOutput: Output = { out: (t) => process.stdout.write(t + "\n"), err: (t) => process.stderr.write(t + "\n") };

/** Below this many messages, starting worker threads costs more than it saves. */
const WORKER_THRESHOLD = 5_000;

export async function runAudit(input: RunAuditInput, io: Output = consoleOutput): Promise<number> {
  let channels: string[] | undefined;
  let source: AuditLogSource | undefined;
  try {
    channels = input.channels?.map(channelId);
  } catch (error) {
    io.err(`chainmail audit: ${(error as Error).message}`);
    return EXIT_USAGE;
  }
  try {
    source = typeof input.source === "function" ? await input.source() : input.source;
    const every = input.progressEvery ?? 10_000;
    let nextReport = every;
    const started = performance.now();
    let workers = input.workers;
    if (workers === undefined) {
      workers = (await expectedMessages(source, channels)) >= WORKER_THRESHOLD ? os.availableParallelism() : 0;
    }
    const result = await audit(source, {
      channels,
      workers,
      recovery: input.recovery,
      keepLogs: input.evidence !== undefined,
      kafka: input.kafka && new KafkaTopicReader(input.kafka.brokers, input.kafka.topic, input.kafka.timeoutMs),
      kafkaConfirmations: input.kafka?.confirmations,
      onProgress: (n) => {
        if (every > 0 && n >= nextReport) {
          const seconds = (performance.now() - started) / 1000;
          io.err(`audit: ${n} messages decoded and signature-checked (${Math.round(n / seconds)}/s)`);
          while (nextReport <= n) nextReport += every;
        }
      },
    });
    const { report, messages } = result;
    if (input.export) await exportMessages(messages, input.export.format, input.export.file);
    if (input.evidence) await writeEvidence(input.evidence, evidenceOf(result, input.tool ?? "@chainmail/audit"));
    io.out(input.json ? toJson(report) : summaryText(report));
    if (input.export && !input.json) io.out(`Wrote ${messages.length} messages with their status to ${input.export.file} (${input.export.format}).`);
    if (input.evidence && !input.json) io.out(`Wrote the evidence bundle to ${input.evidence}; check it offline with: chainmail verify-evidence ${input.evidence}`);
    if (!report.ok) io.err(`chainmail audit: found ${report.totals.discrepancies} discrepancies; the record does not verify.`);
    return report.ok ? EXIT_CLEAN : EXIT_DISCREPANCY;
  } catch (error) {
    io.err(`chainmail audit: ${explain(error)}`);
    return EXIT_USAGE;
  } finally {
    await source?.close?.();
  }
}

/**
 * `verify-evidence`: the same audit on a bundle alone (no network). Exit 0 when it
 * verifies clean, 1 when the bundle is refused or the record it holds does not verify.
 */
export async function runVerifyEvidence(input: { file: string; checkpoint?: Checkpoint; json?: boolean }, io: Output = consoleOutput): Promise<number> {
  try {
    // One verifier command for both kinds of file: a single-message proof is told by its format.
    const single = await readMessageProof(input.file);
    if (single) {
      const verified = verifyMessageProof(single, input.checkpoint);
      io.out(input.json ? JSON.stringify({ ok: true, ...verified }, null, 2) : messageProofText(verified));
      return EXIT_CLEAN;
    }
    const bundle = await readEvidence(input.file);
    const { report } = await audit(new EvidenceSource(bundle, input.checkpoint), { workers: 0 });
    io.out(input.json ? toJson(report) : summaryText(report));
    const expected = bundle.manifest.verdict;
    if (report.ok !== expected.ok || report.totals.messages !== expected.messages) {
      io.err(`chainmail verify-evidence: the bundle's manifest says ${expected.ok ? "clean" : "discrepancies"} over ${expected.messages} messages, but it verifies as ${report.ok ? "clean" : "discrepancies"} over ${report.totals.messages}.`);
      return EXIT_DISCREPANCY;
    }
    if (!report.ok) io.err(`chainmail verify-evidence: found ${report.totals.discrepancies} discrepancies; the record does not verify.`);
    return report.ok ? EXIT_CLEAN : EXIT_DISCREPANCY;
  } catch (error) {
    if (error instanceof EvidenceError) {
      io.err(`chainmail verify-evidence: refused: ${error.message}`);
      return EXIT_DISCREPANCY;
    }
    io.err(`chainmail verify-evidence: ${explain(error)}`);
    return EXIT_USAGE;
  }
}

/** The file as a message proof, or undefined when it is something else (an evidence bundle, or not JSON: readEvidence says what). */
async function readMessageProof(file: string): Promise<MessageProof | undefined> {
  let value: unknown;
  try {
    value = JSON.parse(await readFile(file, "utf8"));
  } catch {
    return undefined;
  }
  return (value as { format?: unknown })?.format === MESSAGE_PROOF_FORMAT ? (value as MessageProof) : undefined;
}

async function expectedMessages(source: AuditLogSource, channels?: string[]): Promise<number> {
  const { toBlock } = await source.range();
  let total = 0n;
  for (const c of channels ?? (await source.channels(toBlock))) total += (await source.channelInfo(c, toBlock)).seq;
  return Number(total);
}

/** One sentence for what stopped the audit. */
function explain(error: unknown): string {
  // Ours (UnknownChannel, NoRegistry, NodeUnreachable, KafkaTopicMissing, ...) are sentences already.
  if (error instanceof ChainMailError) return error.message;
  const text = error instanceof Error ? error.message : String(error);
  if (/ECONNREFUSED|ENOTFOUND|fetch failed|failed to detect network|network is not available/i.test(text)) {
    return `cannot reach the node or broker (${text.split("\n")[0].slice(0, 160)}).`;
  }
  if (/KafkaJSConnectionError|KafkaJSNumberOfRetriesExceeded|Connection error/i.test(text) || (error as { name?: string })?.name?.startsWith("KafkaJS")) {
    return `cannot read Kafka: ${text.split("\n")[0].slice(0, 160)}.`;
  }
  return `the audit could not run: ${text.split("\n")[0].slice(0, 200)}`;
}
