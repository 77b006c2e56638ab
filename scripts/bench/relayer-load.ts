/**
 * Pieces shared by the relayer benchmarks (bench-relayer.ts, bench-e2e.ts): a registry
 * with one channel of many authors, pre-signed messages, a closed-loop HTTP load
 * generator with C concurrent clients, percentiles and per-process CPU time.
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { parseArgs } from "node:util";
import { HDNodeWallet, Wallet } from "ethers";
import { createChannelWithMembers, deployRegistry } from "@chainmail/testkit";
import { signedMessageJson } from "@chainmail/client";
import { devPrivateKey } from "@chainmail/testkit";
import { channelId, DEFAULT_LIMITS, digestOf, memberRoleOf, type SignedMessage } from "@chainmail/protocol";
import { buildApp, type RelayerApp } from "@chainmail/relayer";
import { configFrom } from "@chainmail/relayer";
import type { RunningNode } from "@chainmail/testkit";

export const BODY_BYTES = 256;

export const progress = (line: string) => process.stderr.write(line + "\n");

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

/** CPU seconds (user+system) a process has used, from /proc (Linux). */
export function processCpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ticks = Number(fields[11]) + Number(fields[12]); // utime, stime
  return ticks / 100; // USER_HZ is 100 on Linux
}

/** CPU seconds of a process and its direct children (a launcher such as the `hardhat` bin may spawn node). */
export function processTreeCpuSeconds(pid: number): number {
  const pids = [pid];
  try {
    pids.push(...readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/).filter(Boolean).map(Number));
  } catch {
    /* no children file */
  }
  let total = 0;
  for (const p of pids) {
    try {
      total += processCpuSeconds(p);
    } catch {
      /* gone */
    }
  }
  return total;
}

/** The hardhat node's CPU seconds (its launcher and the node it runs). */
export function nodeCpuSeconds(node: RunningNode): number {
  return processTreeCpuSeconds(node.process.pid!);
}

export interface BenchRegistry {
  address: string;
  registry: Awaited<ReturnType<typeof deployRegistry>>["registry"];
  location: { chainId: bigint; address: string };
  authors: HDNodeWallet[];
  channel: string;
  /** The latest block's timestamp after setup: what the pre-signed messages carry. */
  timestamp: bigint;
}

/** Deploys a registry and creates channel `name` with `authorCount` fresh random members. */
export async function setUpBenchRegistry(node: RunningNode, name: string, authorCount: number): Promise<BenchRegistry> {
  const deployer = new Wallet(devPrivateKey(0), node.provider);
  const admin = new Wallet(devPrivateKey(1), node.provider);
  const deployed = await deployRegistry(deployer, { ...DEFAULT_LIMITS, maxAge: 86_400 });
  const authors = Array.from({ length: authorCount }, () => Wallet.createRandom());
  progress(`creating channel "${name}" with ${authorCount} members...`);
  const channel = await createChannelWithMembers(deployed.registry, name, admin, []);
  const asAdmin = deployed.registry.connect(admin);
  let adminNonce = await node.provider.getTransactionCount(admin.address, "pending");
  const grants = [];
  for (const a of authors) grants.push(await asAdmin.grantRole(memberRoleOf(channel), a.address, { nonce: adminNonce++ }));
  await Promise.all(grants.map((tx) => tx.wait()));
  const block = await node.provider.getBlock("latest");
  return {
    address: deployed.address,
    registry: deployed.registry,
    location: { chainId: deployed.chainId, address: deployed.address },
    authors,
    channel: channelId(name),
    timestamp: BigInt(block!.timestamp),
  };
}

const native = createRequire(import.meta.url)("secp256k1/bindings.js") as {
  ecdsaSign(msg32: Uint8Array, key: Uint8Array): { signature: Uint8Array; recid: number };
};

/**
 * `count` messages (256-byte bodies) round-robin over `authors`, nonces from `start`.
 * Signed with libsecp256k1 over the protocol's digest (the same signature ethers'
 * signTypedData makes: RFC 6979, low s), about 20x faster, so a benchmark's set-up
 * does not dwarf its run.
 */
export async function presign(authors: Array<Wallet | HDNodeWallet>, location: { chainId: bigint; address: string }, channel: string, count: number, start: number, timestamp: bigint): Promise<SignedMessage[]> {
  const body = "0x" + "ab".repeat(BODY_BYTES);
  const messages: SignedMessage[] = [];
  const keys = new Map<string, Buffer>();
  for (let i = 0; i < count; i++) {
    const author = authors[i % authors.length];
    // Consecutive nonces per author: 256 share one storage word (the cheap, intended use).
    const nonce = BigInt(start + Math.floor(i / authors.length));
    const message = { channel, author: author.address, body, contentType: 3, timestamp, replyTo: 0n, nonce };
    let key = keys.get(author.address);
    if (!key) keys.set(author.address, (key = Buffer.from(author.privateKey.slice(2), "hex")));
    const { signature, recid } = native.ecdsaSign(Buffer.from(digestOf(location, message).slice(2), "hex"), key);
    messages.push({ ...message, signature: "0x" + Buffer.from(signature).toString("hex") + (27 + recid).toString(16) });
  }
  return messages;
}

/**
 * An in-process relayer on a free port, tuned for measuring: no rate limits, fast
 * receipt polling, batches of `batchMaxSize` (1 = one transaction per message, no wait).
 */
export async function startBenchRelayer(rpcUrl: string, registryAddress: string, signerKeys: string[], batchMaxSize: number, inflight: number): Promise<{ app: RelayerApp; address: string }> {
  const app = await buildApp(
    configFrom({
      rpcUrl,
      registryAddress,
      signerKeys,
      batchMaxSize,
      batchMaxWaitMs: batchMaxSize === 1 ? 0 : 50,
      maxInFlightPerSigner: inflight,
      rateLimitAuthorPerSecond: 0,
      rateLimitClientPerSecond: 0,
      receiptPollMs: 20,
      port: 0,
      // The relayer's own log (JSON on stdout) when asked: BENCH_LOG_LEVEL=warn.
      logLevel: (process.env.BENCH_LOG_LEVEL ?? "silent") as never,
    }),
    { defaultMetrics: false },
  );
  try {
    return { app, address: await app.listen({ host: "127.0.0.1", port: 0 }) };
  } catch (error) {
    await app.close();
    throw error;
  }
}

export interface PostResponse {
  status: number;
  json: { digest?: string; status?: string; code?: string; message?: string };
}

/**
 * Posts every message to `${baseUrl}/v1/messages` with `concurrency` closed-loop clients
 * (each sends its next message when the previous answer arrives). `onResponse` gets the
 * message index, the time the POST started (performance.now()) and the answer.
 */
export async function postAll(
  baseUrl: string,
  messages: SignedMessage[],
  concurrency: number,
  onResponse: (index: number, startedMs: number, response: PostResponse) => void,
  onStart?: (index: number, startedMs: number) => void,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    for (;;) {
      const i = next++;
      if (i >= messages.length) return;
      const started = performance.now();
      onStart?.(i, started);
      const response = await fetch(`${baseUrl}/v1/messages`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(signedMessageJson(messages[i])),
      });
      onResponse(i, started, { status: response.status, json: (await response.json()) as PostResponse["json"] });
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}

/** Whole-number flag parsing with one clear sentence on bad input. */
export function wholeNumber(name: string, v: string, min: number, max: number): number {
  if (!/^\d+$/.test(v) || Number(v) < min || Number(v) > max) throw new Error(`--${name} must be a whole number from ${min} to ${max}.`);
  return Number(v);
}

export interface NumberFlag {
  default: number;
  min: number;
  max: number;
}

/** The load flags both relayer benchmarks take; each picks its own defaults. */
export const loadFlags = (d: { messages: number; baselineMessages: number }) => ({
  messages: { default: d.messages, min: 1, max: 1_000_000 },
  "baseline-messages": { default: d.baselineMessages, min: 1, max: 1_000_000 },
  concurrency: { default: 128, min: 1, max: 10_000 },
  authors: { default: 100, min: 1, max: 10_000 },
  signers: { default: 2, min: 1, max: 8 },
  inflight: { default: 4, min: 1, max: 64 },
});

/**
 * `--json`, `--help`, whole-number flags (validated against their limits) and string
 * flags. Returns the values, or the exit code after printing usage (0) or one sentence
 * about the wrong flag (2).
 */
export function parseBenchFlags<N extends string, S extends string = never>(
  argv: string[],
  usage: string,
  numbers: Record<N, NumberFlag>,
  strings: Record<S, string> = {} as Record<S, string>,
): { exit: number } | { json: boolean; num: Record<N, number>; str: Record<S, string> } {
  const options: Record<string, { type: "string" | "boolean"; short?: string; default?: string | boolean }> = {
    json: { type: "boolean", default: false },
    help: { type: "boolean", short: "h", default: false },
  };
  for (const [name, flag] of Object.entries<NumberFlag>(numbers)) options[name] = { type: "string", default: String(flag.default) };
  for (const [name, value] of Object.entries<string>(strings)) options[name] = { type: "string", default: value };
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parseArgs({ args: argv.filter((a) => a !== "--"), strict: true, options }).values;
  } catch (error) {
    process.stderr.write(`${(error as Error).message.split("\n")[0]} (see --help).\n`);
    return { exit: 2 };
  }
  if (values.help) {
    process.stdout.write(usage + "\n");
    return { exit: 0 };
  }
  const num = {} as Record<N, number>;
  const str = {} as Record<S, string>;
  try {
    for (const [name, flag] of Object.entries<NumberFlag>(numbers)) num[name as N] = wholeNumber(name, String(values[name]), flag.min, flag.max);
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n`);
    return { exit: 2 };
  }
  for (const name of Object.keys(strings)) str[name as S] = String(values[name]);
  return { json: Boolean(values.json), num, str };
}

/** Runs a benchmark's main and exits with its code; an unexpected error is one line on stderr. */
export function runBench(name: string, main: (argv: string[]) => Promise<number>, onError?: () => number | undefined): void {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error: unknown) => {
      const code = onError?.();
      if (code !== undefined) process.exit(code);
      process.stderr.write(`${name} failed: ${error instanceof Error ? error.stack : String(error)}\n`);
      process.exit(1);
    },
  );
}

export const round2 = (x: number) => Math.round(x * 100) / 100;
