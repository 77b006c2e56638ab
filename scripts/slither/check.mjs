// Compares Slither's findings (its --json reports, given as arguments) with the committed
// triage list scripts/slither/triage.json. A finding is named by its detector and its
// first description line with the line numbers taken out, so that moving code does not
// make an old finding look new. Prints mocha-style "N passing"/"N failing" for
// scripts/test.sh: every finding not in the list is a failure.
import { readFileSync } from "node:fs";
import path from "node:path";

const triageFile = path.join(path.dirname(new URL(import.meta.url).pathname), "triage.json");
const triaged = new Map(JSON.parse(readFileSync(triageFile, "utf8")).map((t) => [`${t.check}: ${t.finding}`, t]));

const name = (d) => `${d.check}: ${d.description.split("\n")[0].replace(/#\d+(-\d+)?/g, "#").trim()}`;
const found = process.argv.slice(2).flatMap((file) => {
  const report = JSON.parse(readFileSync(file, "utf8"));
  if (!report.success) throw new Error(`Slither failed on ${file}: ${report.error}`);
  return (report.results?.detectors ?? []).map((d) => ({ key: name(d), impact: d.impact, text: d.description.trim() }));
});

const fresh = found.filter((f) => !triaged.has(f.key));
const seen = new Set(found.map((f) => f.key));
for (const f of found) if (triaged.has(f.key)) console.log(`  ✔ triaged (${triaged.get(f.key).verdict}): ${f.key}`);
for (const f of fresh) console.log(`  ✗ NEW ${f.impact} finding, fix it or triage it in scripts/slither/triage.json:\n    ${f.text.replace(/\n/g, "\n    ")}`);
for (const key of triaged.keys()) if (!seen.has(key)) console.log(`  note: triaged finding no longer reported, remove it from the list: ${key}`);
console.log(`\n  ${found.length - fresh.length} passing`);
if (fresh.length > 0) console.log(`  ${fresh.length} failing`);
process.exit(fresh.length > 0 ? 1 : 0);
