/**
 * A small hand-written SVG bar chart (no chart library): one bar per category, its
 * value above it and an optional note below the axis label. Used for the benchmark
 * charts the README links.
 */

export interface Bar {
  /** Category label under the bar, such as "batch 10". */
  label: string;
  value: number;
  /** Smaller second line under the label, such as "p50 420 ms". */
  note?: string;
  /** Highlight (e.g. the baseline) in a second colour. */
  accent?: boolean;
}

export interface BarChart {
  title: string;
  subtitle?: string;
  yLabel: string;
  bars: Bar[];
  /** Lines of small print at the bottom (what was measured, where, how); keep each under ~95 characters. */
  footer?: string[];
}

const escape = (text: string) => text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

/** A "nice" tick step (1, 2, 2.5 or 5 times a power of ten) for about five ticks up to `max`. */
function niceStep(max: number): number {
  if (!(max > 0)) return 1;
  const raw = max / 5;
  const power = 10 ** Math.floor(Math.log10(raw));
  for (const step of [1, 2, 2.5, 5, 10]) if (step * power >= raw) return step * power;
  return 10 * power;
}

export function barChartSvg(chart: BarChart): string {
  const width = 640;
  const footerLines = chart.footer?.length ?? 0;
  const height = 400 + footerLines * 16;
  const left = 70;
  const right = 20;
  const top = chart.subtitle ? 70 : 50;
  const plotHeight = 250;
  const bottom = top + plotHeight;
  const plotWidth = width - left - right;
  const step = niceStep(Math.max(...chart.bars.map((b) => b.value)) * 1.1);
  const ticks = Math.max(1, Math.ceil((Math.max(...chart.bars.map((b) => b.value)) * 1.1) / step));
  const yMax = step * ticks;
  const y = (v: number) => bottom - (v / yMax) * plotHeight;
  const slot = plotWidth / Math.max(chart.bars.length, 1);
  const barWidth = Math.min(80, slot * 0.6);
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Helvetica, Arial, sans-serif" font-size="12">`);
  out.push(`<rect width="${width}" height="${height}" fill="#ffffff"/>`);
  out.push(`<text x="${width / 2}" y="24" text-anchor="middle" font-size="16" font-weight="bold">${escape(chart.title)}</text>`);
  if (chart.subtitle) out.push(`<text x="${width / 2}" y="44" text-anchor="middle" fill="#555">${escape(chart.subtitle)}</text>`);
  // Grid and y axis ticks at round values.
  for (let i = 0; i <= ticks; i++) {
    const v = step * i;
    out.push(`<line x1="${left}" x2="${width - right}" y1="${y(v)}" y2="${y(v)}" stroke="#e5e5e5"/>`);
    out.push(`<text x="${left - 6}" y="${y(v) + 4}" text-anchor="end" fill="#555">${step >= 1 ? Math.round(v) : v.toFixed(2)}</text>`);
  }
  out.push(`<line x1="${left}" x2="${left}" y1="${top}" y2="${bottom}" stroke="#333"/>`);
  out.push(`<line x1="${left}" x2="${width - right}" y1="${bottom}" y2="${bottom}" stroke="#333"/>`);
  out.push(`<text transform="translate(18 ${top + plotHeight / 2}) rotate(-90)" text-anchor="middle" fill="#333">${escape(chart.yLabel)}</text>`);
  chart.bars.forEach((bar, i) => {
    const cx = left + slot * (i + 0.5);
    const h = bottom - y(bar.value);
    out.push(`<rect x="${cx - barWidth / 2}" y="${y(bar.value)}" width="${barWidth}" height="${h}" fill="${bar.accent ? "#9aa5b1" : "#2f6fb0"}"/>`);
    out.push(`<text x="${cx}" y="${y(bar.value) - 6}" text-anchor="middle" font-weight="bold">${Math.round(bar.value)}</text>`);
    out.push(`<text x="${cx}" y="${bottom + 18}" text-anchor="middle">${escape(bar.label)}</text>`);
    if (bar.note) out.push(`<text x="${cx}" y="${bottom + 34}" text-anchor="middle" fill="#555" font-size="11">${escape(bar.note)}</text>`);
  });
  (chart.footer ?? []).forEach((line, i) => {
    out.push(`<text x="20" y="${bottom + 64 + i * 16}" fill="#555" font-size="11">${escape(line)}</text>`);
  });
  out.push(`</svg>`);
  return out.join("\n") + "\n";
}
