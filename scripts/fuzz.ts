/**
 * `pnpm fuzz [--count N] [--seed S] [--json]`: the long run of the property-based fuzz
 * test of POST /v1/messages (relayer/test/relayer-fuzz.test.ts runs the same generators
 * with a small count). Starts its own hardhat node, registry and relayer process, sends
 * N generated requests (random JSON and almost-valid signed messages, see
 * packages/testkit/src/fuzz.ts), then checks that no transaction was sent and that the
 * relayer still answers /healthz. Prints a summary (answers per status and code, per
 * kind); exits 1 on a property violation, with the shrunk request and the seed to replay it.
 */
import { parseArgs } from "node:util";
import { chainSnapshot, chainUntouched, runMessageFuzz, startFuzzStack } from "@chainmail/testkit";

const USAGE = `Usage: pnpm fuzz [--count N] [--seed S] [--json]

  --count N   generated requests [100000]
  --seed S    fast-check seed, to replay a run [random]
  --json      print the summary as one JSON object on stdout (progress on stderr)`;

const progress = (line: string) => process.stderr.write(line + "\n");

async function main(argv: string[]): Promise<number> {
  let values;
  try {
    values = parseArgs({
      args: argv.filter((a) => a !== "--"),
      strict: true,
      options: { count: { type: "string", default: "100000" }, seed: { type: "string" }, json: { type: "boolean", default: false }, help: { type: "boolean", short: "h", default: false } },
    }).values;
  } catch (error) {
    progress(`${(error as Error).message.split("\n")[0]} (see --help).`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(USAGE + "\n");
    return 0;
  }
  if (!/^\d+$/.test(values.count!) || Number(values.count) < 1) {
    progress("--count must be a whole number of at least 1.");
    return 2;
  }
  if (values.seed !== undefined && !/^-?\d+$/.test(values.seed)) {
    progress("--seed must be a whole number.");
    return 2;
  }
  const count = Number(values.count);
  progress("starting a hardhat node, a registry and a relayer...");
  const stack = await startFuzzStack();
  const stopOnSignal = () => void stack.stop().finally(() => process.exit(130));
  process.once("SIGINT", stopOnSignal);
  process.once("SIGTERM", stopOnSignal);
  try {
    const before = await chainSnapshot(stack.node.provider, stack.signers);
    const started = Date.now();
    progress(`fuzzing ${stack.relayer.url}/v1/messages with ${count} requests...`);
    const result = await runMessageFuzz({
      url: stack.relayer.url,
      ctx: stack.ctx,
      count,
      seed: values.seed === undefined ? undefined : Number(values.seed),
      progressEvery: 1000,
      onProgress: (done) => progress(`  ${done}/${count} requests, ${Math.round(done / ((Date.now() - started) / 1000))}/s`),
    });
    const seconds = (Date.now() - started) / 1000;
    const after = await chainSnapshot(stack.node.provider, stack.signers);
    const chainProblems = await chainUntouched(stack.node.provider, stack.registry, before, after);
    const healthz = await fetch(`${stack.relayer.url}/healthz`, { signal: AbortSignal.timeout(10_000) }).then((r) => r.status, () => 0);
    const violations = [
      ...(result.violation ? [`${result.violation.error}; request: ${JSON.stringify(result.violation.counterexample).slice(0, 2000)}`] : []),
      ...chainProblems,
      ...(healthz === 200 ? [] : [`the relayer is not alive at the end (/healthz: ${healthz || "no answer"})`]),
    ];
    const summary = { seed: result.seed, requests: result.runs, seconds: Math.round(seconds), byStatus: result.byStatus, byKind: result.byKind, violations };
    if (values.json) process.stdout.write(JSON.stringify(summary, null, 2) + "\n");
    else {
      const lines = [`${result.runs} requests in ${summary.seconds} s (seed ${result.seed})`, "answers by status and code:"];
      for (const [key, n] of Object.entries(result.byStatus).sort((a, b) => b[1] - a[1])) lines.push(`  ${String(n).padStart(8)}  ${key}`);
      lines.push("answers by kind:");
      for (const [kind, counts] of Object.entries(result.byKind).sort()) lines.push(`  ${kind.padEnd(22)} ${Object.entries(counts).map(([k, n]) => `${k}: ${n}`).join(", ")}`);
      lines.push(violations.length === 0 ? "no property violated: no 5xx but documented 503s, every 4xx in the error shape, nothing invalid accepted, no transaction, relayer alive." : `PROPERTY VIOLATED:\n  ${violations.join("\n  ")}`);
      process.stdout.write(lines.join("\n") + "\n");
    }
    return violations.length === 0 ? 0 : 1;
  } finally {
    await stack.stop();
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    progress(`fuzz failed: ${error instanceof Error ? error.stack : String(error)}`);
    process.exit(1);
  },
);
