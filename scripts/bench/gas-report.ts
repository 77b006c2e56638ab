/** Plain-text tables for the gas benchmark's human output. */
import type { Breakdown } from "./gas-breakdown.js";

export function table(header: string[], rows: (string | number)[][], alignLeft = new Set([0])): string {
  const cells = [header, ...rows.map((r) => r.map((c) => (typeof c === "number" ? gas(c) : c)))];
  const widths = header.map((_, i) => Math.max(...cells.map((r) => r[i].length)));
  const line = (r: string[]) => r.map((c, i) => (alignLeft.has(i) ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join("  ");
  return [line(cells[0]), widths.map((w) => "-".repeat(w)).join("  "), ...cells.slice(1).map(line)].join("\n");
}

/** Gas figures rounded to whole gas with thousands separators. */
export function gas(x: number): string {
  return Math.round(x).toLocaleString("en-US");
}

export function breakdownTable(b: Breakdown): string {
  const rows = b.rows.map((r) => [r.label, r.estimated === null ? "-" : gas(r.estimated), r.traced === null ? "-" : gas(r.traced), r.note]);
  rows.push([
    "total",
    `${gas(b.estimatedTotalPerMessage)} (without "other")`,
    b.tracedTotalPerMessage === null ? "-" : gas(b.tracedTotalPerMessage),
    `measured: receipt gasUsed ${gas(b.measuredGasUsed)} / ${b.messages} = ${gas(b.measuredGasPerMessage)}`,
  ]);
  return table(["component (per message)", "estimated", "traced", "how"], rows, new Set([0, 3]));
}
