/** The audit's outputs: a summary a person reads, the JSON report, and the per-message export. */
import { createWriteStream } from "node:fs";
import { once } from "node:events";
import { channelName } from "@chainmail/protocol";
import { DISCREPANCY_KINDS, WARNING_KINDS, type AuditedMessage, type AuditReport } from "./types.js";

/** At most this many discrepancies are listed one by one in the summary (all are in --json). */
const LISTED = 20;

export function summaryText(report: AuditReport): string {
  const lines: string[] = [];
  lines.push(`ChainMail audit of registry ${report.registry.address} on chain ${report.registry.chainId}, blocks ${report.fromBlock}..${report.toBlock}`);
  for (const c of report.channels) {
    const state = c.ok ? "ok" : "DISCREPANCIES";
    const seqs = c.messages === 0 ? "no messages" : `seq 1..${c.lastSeq}`;
    lines.push(`  ${c.name.padEnd(20)} ${String(c.messages).padStart(8)} messages  ${seqs} (stored ${c.storedSeq})  head ${c.storedHead.slice(0, 10)}…  ${state}`);
  }
  if (report.kafka) {
    const k = report.kafka;
    lines.push(`  Kafka ${k.topic} on ${k.brokers.join(",")}: ${k.messageEvents} message events compared${k.pending ? `, ${k.pending} too recent to expect` : ""}  ${k.ok ? "ok" : "DISCREPANCIES"}`);
  }
  if (report.proof) {
    const p = report.proof;
    lines.push(`  Block ${p.block} ${p.hash}: header trusted through ${p.trusted}; registry state ${p.proven ? `proven by eth_getProof against state root ${p.stateRoot}` : "NOT proven"}.`);
  }
  const t = report.timingsMs;
  const rate = t.total > 0 ? Math.round((report.totals.messages / t.total) * 1000) : 0;
  const speed = report.totals.messages >= 1000 ? `${rate}/s; ` : "";
  lines.push(`Verified ${report.totals.messages} messages in ${report.totals.channels} channels in ${(t.total / 1000).toFixed(1)} s (${speed}signatures: ${report.recovery}).`);
  if (report.ok) {
    const stored = report.proof?.proven ? "the proven stored heads" : "the stored heads (as the endpoint reports them, not proven)";
    lines.push(`Clean: every seq present once and in order, every head and ${stored} recomputed, every signature by its author, every author a member when posting` + (report.kafka ? ", every Kafka copy re-verified and identical." : "."));
  } else {
    lines.push(`FOUND ${report.totals.discrepancies} DISCREPANCIES:`);
    const counts = Object.entries(report.totals.byKind).filter(([k]) => k in DISCREPANCY_KINDS);
    for (const [kind, n] of counts) lines.push(`  ${kind} x${n}: ${DISCREPANCY_KINDS[kind as keyof typeof DISCREPANCY_KINDS]}`);
    for (const d of report.discrepancies.slice(0, LISTED)) lines.push(`  - ${d.kind}: ${d.detail}${d.transactionHash ? ` (tx ${d.transactionHash})` : ""}`);
    if (report.discrepancies.length > LISTED) lines.push(`  … and ${report.discrepancies.length - LISTED} more (use --json or --export).`);
  }
  for (const w of report.warnings.slice(0, LISTED)) lines.push(`  warning ${w.kind}: ${w.detail} ${WARNING_KINDS[w.kind]}`);
  return lines.join("\n");
}

/** JSON with bigints as decimal strings. */
export function toJson(value: unknown): string {
  return JSON.stringify(value, (_, v) => (typeof v === "bigint" ? v.toString() : v), 2);
}

export type ExportFormat = "jsonl" | "csv";

const COLUMNS = ["channel", "channelName", "seq", "author", "blockNumber", "transactionHash", "logIndex", "digest", "head", "signature", "status", "problems"] as const;

function row(m: AuditedMessage): Record<(typeof COLUMNS)[number], string | number> {
  return {
    channel: m.channel,
    channelName: channelName(m.channel),
    seq: m.seq.toString(),
    author: m.author,
    blockNumber: m.blockNumber,
    transactionHash: m.transactionHash,
    logIndex: m.logIndex,
    digest: m.digest,
    head: m.head,
    signature: m.signature,
    status: m.problems.length === 0 ? "ok" : "discrepancy",
    problems: m.problems.join("|"),
  };
}

function csvField(value: string | number): string {
  const text = String(value);
  return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** Writes every message with its verification status, one line (jsonl) or row (csv) each. */
export async function exportMessages(messages: AuditedMessage[], format: ExportFormat, file: string): Promise<void> {
  const out = createWriteStream(file);
  const write = async (line: string) => {
    if (!out.write(line + "\n")) await once(out, "drain");
  };
  if (format === "csv") await write(COLUMNS.join(","));
  for (const m of messages) {
    const r = row(m);
    await write(format === "csv" ? COLUMNS.map((c) => csvField(r[c])).join(",") : JSON.stringify(r));
  }
  out.end();
  await once(out, "finish");
}
