/**
 * `pnpm bench:relayer [--json] [--messages N] [--concurrency C] [--authors A]`:
 * end-to-end relayer throughput on this machine. Starts its own `hardhat node`
 * (automine) and an in-process relayer listening on HTTP, posts N pre-signed
 * messages (256-byte bodies) from many authors with C concurrent HTTP clients, and
 * measures accepted/s (202s), confirmed/s (on-chain outcomes), latency from POST to
 * confirmation (p50/p95/p99) and gas per message — beside a baseline in the same run
 * with batching off (batch size 1). It also samples CPU time of the hardhat node and
 * of this process (relayer + clients) to show what limits throughput.
 * Progress goes to stderr; `--json` prints one JSON object on stdout.
 */
import { readFileSync } from "node:fs";
import os from "node:os";
import { parseArgs } from "node:util";
import { HDNodeWallet, Wallet } from "ethers";
import { createChannelWithMembers, deployRegistry } from "../relayer/src/chain/deploy.js";
import { devPrivateKey } from "../relayer/src/dev-keys.js";
import { channelId, memberRoleOf, signMessage, type SignedMessage } from "../relayer/src/protocol/index.js";
import { buildApp, type RelayerApp } from "../relayer/src/service/app.js";
import { configFrom } from "../relayer/src/service/config.js";
import { signedMessageJson } from "../relayer/src/client/index.js";
import { startHardhatNode, type RunningNode } from "../relayer/test/support/hardhat-node.js";

const USAGE = `Usage: pnpm bench:relayer [--json] [--messages N] [--concurrency C] [--authors A] [--signers S] [--batch B] [--baseline-messages N]

  --messages N           messages in the batched run [2000]
  --baseline-messages N  messages in the batch-size-1 baseline run [300]
  --concurrency C        concurrent HTTP clients [128]
  --authors A            distinct authors (channel members) [100]
  --signers S            relayer signer keys (lanes) [2]
  --batch B              batch size of the batched run [100]
  --inflight F           unconfirmed transactions per signer [4]
  --json                 print one JSON object on stdout (progress goes to stderr)`;

const progress = (line: string) => process.stderr.write(line + "\n");

interface RunResult {
  label: string;
  messages: number;
  batchMaxSize: number;
  acceptedPerSecond: number;
  confirmedPerSecond: number;
  p50ConfirmMs: number;
  p95ConfirmMs: number;
  p99ConfirmMs: number;
  gasPerMessage: number;
  transactions: number;
  meanBatchSize: number;
  confirmed: number;
  rejected: number;
  failed: number;
  wallSeconds: number;
  cpu: {
    nodeCoreSeconds: number;
    relayerCoreSeconds: number;
    nodeUtilisation: number;
    relayerUtilisation: number;
    /** CPU milliseconds per confirmed message: the load-independent cost. */
    nodeMsPerMessage: number;
    relayerMsPerMessage: number;
  };
  /** 1-minute load average at the start and end of the run (other work on the machine). */
  loadAverage: [number, number];
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

/** CPU seconds (user+system) a process has used, from /proc (Linux). */
function processCpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ticks = Number(fields[11]) + Number(fields[12]); // utime, stime
  return ticks / 100; // USER_HZ is 100 on Linux
}

/** The hardhat node's own process (the launcher may be a wrapper). */
function nodeCpuSeconds(node: RunningNode): number {
  let total = 0;
  const pids = [node.process.pid!];
  // Include children (the `hardhat` bin may spawn node).
  try {
    const children = readFileSync(`/proc/${node.process.pid}/task/${node.process.pid}/children`, "utf8").trim().split(/\s+/).filter(Boolean);
    pids.push(...children.map(Number));
  } catch {
    /* no children file */
  }
  for (const pid of pids) {
    try {
      total += processCpuSeconds(pid);
    } catch {
      /* gone */
    }
  }
  return total;
}

async function presign(authors: Array<Wallet | HDNodeWallet>, location: { chainId: bigint; address: string }, channel: string, count: number, start: number, timestamp: bigint): Promise<SignedMessage[]> {
  const body = "0x" + "ab".repeat(256);
  const messages: SignedMessage[] = [];
  for (let i = 0; i < count; i++) {
    const author = authors[i % authors.length];
    // Consecutive nonces per author: 256 share one storage word (the cheap, intended use).
    const nonce = BigInt(start + Math.floor(i / authors.length));
    messages.push(await signMessage(author, location, { channel, author: author.address, body, contentType: 3, timestamp, replyTo: 0n, nonce }));
  }
  return messages;
}

async function runOnce(
  label: string,
  node: RunningNode,
  registryAddress: string,
  signerKeys: string[],
  batchMaxSize: number,
  messages: SignedMessage[],
  concurrency: number,
  inflight: number,
): Promise<RunResult> {
  const app: RelayerApp = await buildApp(
    configFrom({
      rpcUrl: node.url,
      registryAddress,
      signerKeys,
      batchMaxSize,
      batchMaxWaitMs: batchMaxSize === 1 ? 0 : 50,
      maxInFlightPerSigner: inflight,
      rateLimitAuthorPerSecond: 0,
      rateLimitClientPerSecond: 0,
      receiptPollMs: 20,
      port: 0,
    }),
    { defaultMetrics: false },
  );
  const address = await app.listen({ host: "127.0.0.1", port: 0 });
  const { submitter, index, metrics } = app.services;
  const latencies: number[] = [];
  let confirmed = 0;
  let rejected = 0;
  let failed = 0;
  let acceptedAt = 0;
  const settledAll: Promise<void>[] = [];
  const load0 = os.loadavg()[0];
  const nodeCpu0 = nodeCpuSeconds(node);
  const selfCpu0 = process.cpuUsage();
  const t0 = performance.now();
  let next = 0;
  const worker = async () => {
    for (;;) {
      const i = next++;
      if (i >= messages.length) return;
      const started = performance.now();
      const response = await fetch(`${address}/v1/messages`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(signedMessageJson(messages[i])),
      });
      const json = (await response.json()) as { digest?: string; status?: string; code?: string; message?: string };
      const record = (status: string | undefined) => {
        latencies.push(performance.now() - started);
        if (status === "confirmed") confirmed++;
        else if (status === "rejected") rejected++;
        else failed++;
      };
      if (response.status !== 202 || !json.digest) {
        if (json.status) record(json.status);
        else {
          failed++;
          progress(`  unexpected ${response.status}: ${json.code} ${json.message}`);
        }
        continue;
      }
      const entry = submitter.get(json.digest);
      if (entry) {
        settledAll.push(entry.settled.then((s) => record(s.status)));
      } else {
        record(index.get(json.digest)?.status);
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  acceptedAt = performance.now();
  await Promise.all(settledAll);
  const done = performance.now();
  const nodeCpu = nodeCpuSeconds(node) - nodeCpu0;
  const self = process.cpuUsage(selfCpu0);
  const wall = (done - t0) / 1000;
  const gasUsed = Number((await metrics.gasUsed.get()).values[0]?.value ?? 0);
  const txs = (await metrics.transactions.get()).values.reduce((s, v) => s + (v.labels.result === "mined" ? v.value : 0), 0);
  await app.close();
  latencies.sort((a, b) => a - b);
  const result: RunResult = {
    label,
    messages: messages.length,
    batchMaxSize,
    acceptedPerSecond: Math.round(messages.length / ((acceptedAt - t0) / 1000)),
    confirmedPerSecond: Math.round(confirmed / wall),
    p50ConfirmMs: Math.round(percentile(latencies, 50)),
    p95ConfirmMs: Math.round(percentile(latencies, 95)),
    p99ConfirmMs: Math.round(percentile(latencies, 99)),
    gasPerMessage: confirmed > 0 ? Math.round(gasUsed / confirmed) : NaN,
    transactions: txs,
    meanBatchSize: txs > 0 ? Math.round((confirmed + rejected) / txs * 10) / 10 : NaN,
    confirmed,
    rejected,
    failed,
    wallSeconds: Math.round(wall * 100) / 100,
    cpu: {
      nodeCoreSeconds: Math.round(nodeCpu * 100) / 100,
      relayerCoreSeconds: Math.round(((self.user + self.system) / 1e6) * 100) / 100,
      nodeUtilisation: Math.round((nodeCpu / wall) * 100) / 100,
      relayerUtilisation: Math.round(((self.user + self.system) / 1e6 / wall) * 100) / 100,
      nodeMsPerMessage: Math.round((nodeCpu * 1000 / Math.max(confirmed, 1)) * 100) / 100,
      relayerMsPerMessage: Math.round(((self.user + self.system) / 1000 / Math.max(confirmed, 1)) * 100) / 100,
    },
    loadAverage: [Math.round(load0 * 100) / 100, Math.round(os.loadavg()[0] * 100) / 100],
  };
  progress(
    `  ${label}: ${result.confirmed}/${result.messages} confirmed in ${result.wallSeconds} s: ${result.confirmedPerSecond} confirmed/s, ${result.acceptedPerSecond} accepted/s, p50/p95/p99 ${result.p50ConfirmMs}/${result.p95ConfirmMs}/${result.p99ConfirmMs} ms, ${result.gasPerMessage} gas/msg, ${result.transactions} txs (mean batch ${result.meanBatchSize}); CPU node ${result.cpu.nodeUtilisation} cores (${result.cpu.nodeMsPerMessage} ms/msg), relayer+clients ${result.cpu.relayerUtilisation} cores (${result.cpu.relayerMsPerMessage} ms/msg); load average ${result.loadAverage.join(" -> ")}`,
  );
  return result;
}

async function main(argv: string[]): Promise<number> {
  let values;
  try {
    values = parseArgs({
      args: argv.filter((a) => a !== "--"),
      strict: true,
      options: {
        json: { type: "boolean", default: false },
        messages: { type: "string", default: "2000" },
        "baseline-messages": { type: "string", default: "300" },
        concurrency: { type: "string", default: "128" },
        authors: { type: "string", default: "100" },
        signers: { type: "string", default: "2" },
        batch: { type: "string", default: "100" },
        inflight: { type: "string", default: "4" },
        help: { type: "boolean", short: "h", default: false },
      },
    }).values;
  } catch (error) {
    process.stderr.write(`${(error as Error).message.split("\n")[0]} (see --help).\n`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(USAGE + "\n");
    return 0;
  }
  const num = (name: string, v: string, min: number, max: number) => {
    if (!/^\d+$/.test(v) || Number(v) < min || Number(v) > max) throw new Error(`--${name} must be a whole number from ${min} to ${max}.`);
    return Number(v);
  };
  let n: number, baselineN: number, concurrency: number, authorCount: number, signerCount: number, batch: number, inflight: number;
  try {
    n = num("messages", values.messages, 1, 1_000_000);
    baselineN = num("baseline-messages", values["baseline-messages"], 1, 1_000_000);
    concurrency = num("concurrency", values.concurrency, 1, 10_000);
    authorCount = num("authors", values.authors, 1, 10_000);
    signerCount = num("signers", values.signers, 1, 8);
    batch = num("batch", values.batch, 1, 1000);
    inflight = num("inflight", values.inflight, 1, 64);
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n`);
    return 2;
  }

  progress("starting hardhat node (automine)...");
  const node = await startHardhatNode();
  try {
    const deployer = new Wallet(devPrivateKey(0), node.provider);
    const admin = new Wallet(devPrivateKey(1), node.provider);
    const deployed = await deployRegistry(deployer, { maxBodyBytes: 4096, maxAge: 86_400, maxFutureSkew: 300 });
    const location = { chainId: deployed.chainId, address: deployed.address };
    const authors = Array.from({ length: authorCount }, () => Wallet.createRandom());
    progress(`creating channel "bench" with ${authorCount} members...`);
    const channel = await createChannelWithMembers(deployed.registry, "bench", admin, []);
    const asAdmin = deployed.registry.connect(admin);
    let adminNonce = await node.provider.getTransactionCount(admin.address, "pending");
    const grants = [];
    for (const a of authors) grants.push(await asAdmin.grantRole(memberRoleOf(channel), a.address, { nonce: adminNonce++ }));
    await Promise.all(grants.map((tx) => tx.wait()));
    const block = await node.provider.getBlock("latest");
    const timestamp = BigInt(block!.timestamp);
    progress(`pre-signing ${n + baselineN} messages...`);
    const batched = await presign(authors, location, channelId("bench"), n, 0, timestamp);
    const baselineMessages = await presign(authors, location, channelId("bench"), baselineN, 1_000_000, timestamp);
    const signerKeys = Array.from({ length: signerCount }, (_, i) => devPrivateKey(10 + i));

    progress(`baseline: batch size 1, ${baselineN} messages, concurrency ${concurrency}, ${signerCount} signer(s)`);
    const baseline = await runOnce("baseline (batch 1)", node, deployed.address, signerKeys, 1, baselineMessages, concurrency, inflight);
    progress(`batched: batch size ${batch}, ${n} messages, concurrency ${concurrency}, ${signerCount} signer(s)`);
    const result = await runOnce(`batched (batch ${batch})`, node, deployed.address, signerKeys, batch, batched, concurrency, inflight);

    const [, , seq] = await deployed.registry.channelInfo(channel);
    const summary = {
      machine: { cpus: os.cpus().length, node: process.version, loadAverageAtStart: os.loadavg()[0] },
      messages: n,
      concurrency,
      authors: authorCount,
      signers: signerCount,
      inflightPerSigner: inflight,
      bodyBytes: 256,
      batchMaxSize: batch,
      acceptedPerSecond: result.acceptedPerSecond,
      confirmedPerSecond: result.confirmedPerSecond,
      p50ConfirmMs: result.p50ConfirmMs,
      p95ConfirmMs: result.p95ConfirmMs,
      p99ConfirmMs: result.p99ConfirmMs,
      gasPerMessage: result.gasPerMessage,
      speedupVsBaseline: Math.round((result.confirmedPerSecond / baseline.confirmedPerSecond) * 10) / 10,
      // Derived, not measured: what the measured CPU cost per message would allow if the
      // node and the relayer had every core of this machine to themselves.
      cpuBoundConfirmedPerSecond: Math.round((os.cpus().length * 1000) / (result.cpu.nodeMsPerMessage + result.cpu.relayerMsPerMessage)),
      channelSeqAfter: Number(seq),
      batched: result,
      baseline,
    };
    if (values.json) {
      process.stdout.write(JSON.stringify(summary) + "\n");
    } else {
      const rows: Array<[string, string | number, string | number]> = [
        ["", "batched", "baseline (batch 1)"],
        ["messages", result.messages, baseline.messages],
        ["accepted/s", result.acceptedPerSecond, baseline.acceptedPerSecond],
        ["confirmed/s", result.confirmedPerSecond, baseline.confirmedPerSecond],
        ["p50 / p95 / p99 ms", `${result.p50ConfirmMs} / ${result.p95ConfirmMs} / ${result.p99ConfirmMs}`, `${baseline.p50ConfirmMs} / ${baseline.p95ConfirmMs} / ${baseline.p99ConfirmMs}`],
        ["gas per message", result.gasPerMessage, baseline.gasPerMessage],
        ["transactions (mean batch)", `${result.transactions} (${result.meanBatchSize})`, `${baseline.transactions} (${baseline.meanBatchSize})`],
        ["CPU cores: node / relayer+clients", `${result.cpu.nodeUtilisation} / ${result.cpu.relayerUtilisation}`, `${baseline.cpu.nodeUtilisation} / ${baseline.cpu.relayerUtilisation}`],
        ["CPU ms/msg: node / relayer+clients", `${result.cpu.nodeMsPerMessage} / ${result.cpu.relayerMsPerMessage}`, `${baseline.cpu.nodeMsPerMessage} / ${baseline.cpu.relayerMsPerMessage}`],
        ["load average (1 min) start -> end", result.loadAverage.join(" -> "), baseline.loadAverage.join(" -> ")],
      ];
      for (const [a, b, c] of rows) process.stdout.write(`${a.padEnd(34)} ${String(b).padEnd(22)} ${c}\n`);
      process.stdout.write(`speed-up vs baseline: ${summary.speedupVsBaseline}x\n`);
      process.stdout.write(`CPU-bound estimate with ${summary.machine.cpus} free cores (derived from CPU ms/msg): ${summary.cpuBoundConfirmedPerSecond} confirmed/s\n`);
    }
    return result.failed === 0 && baseline.failed === 0 ? 0 : 1;
  } finally {
    await node.stop();
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`bench:relayer failed: ${error instanceof Error ? error.stack : String(error)}\n`);
    process.exit(1);
  },
);
