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
import os from "node:os";
import { devPrivateKey } from "@chainmail/testkit";
import type { SignedMessage } from "@chainmail/protocol";
import { MessageOutcome_Status, RelayerService } from "@chainmail/protocol/grpc";
import { signedMessageJson } from "@chainmail/client";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { startHardhatNode, type RunningNode } from "@chainmail/testkit";
import { nodeCpuSeconds, percentile, postAll, presign, loadFlags, parseBenchFlags, progress, runBench, setUpBenchRegistry, startBenchRelayer } from "./bench/relayer-load.js";

const USAGE = `Usage: pnpm bench:relayer [--json] [--transport http|grpc] [--messages N] [--concurrency C] [--authors A] [--signers S] [--batch B] [--baseline-messages N]

  --messages N           messages in the batched run [2000]
  --baseline-messages N  messages in the batch-size-1 baseline run [300]
  --concurrency C        concurrent HTTP clients [128]
  --authors A            distinct authors (channel members) [100]
  --signers S            relayer signer keys (lanes) [2]
  --batch B              batch size of the batched run [100]
  --inflight F           unconfirmed transactions per signer [4]
  --transport T          http (default) or grpc: also run the load through gRPC PostMessages streams
  --streams N            gRPC streams sharing the load (default 8)
  --json                 print one JSON object on stdout (progress goes to stderr)`;

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
  const { app, address } = await startBenchRelayer(node.url, registryAddress, signerKeys, batchMaxSize, inflight);
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
  const record = (status: string | undefined, started: number) => {
    latencies.push(performance.now() - started);
    if (status === "confirmed") confirmed++;
    else if (status === "rejected") rejected++;
    else failed++;
  };
  await postAll(address, messages, concurrency, (_i, started, { status, json }) => {
    if (status !== 202 || !json.digest) {
      if (json.status) record(json.status, started);
      else {
        failed++;
        progress(`  unexpected ${status}: ${json.code} ${json.message}`);
      }
      return;
    }
    const entry = submitter.get(json.digest);
    if (entry) settledAll.push(entry.settled.then((s) => record(s.status, started)));
    else record(index.get(json.digest)?.status, started);
  });
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

/**
 * The same load through gRPC: `streams` PostMessages streams share the messages, each
 * message asking to wait, so its reply is its definitive outcome (latency: from sending
 * it on the stream to its reply).
 */
async function runGrpcOnce(node: RunningNode, registryAddress: string, signerKeys: string[], batchMaxSize: number, messages: SignedMessage[], streams: number, inflight: number) {
  const { app } = await startBenchRelayer(node.url, registryAddress, signerKeys, batchMaxSize, inflight);
  const url = await app.grpc.listen({ host: "127.0.0.1", port: 0 });
  const client = createClient(RelayerService, createGrpcTransport({ baseUrl: url }));
  const latencies: number[] = [];
  let confirmed = 0;
  let other = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: streams }, async (_, s) => {
      const mine = messages.filter((_m, i) => i % streams === s);
      const sentAt: number[] = [];
      async function* requests() {
        for (const m of mine) {
          sentAt.push(performance.now());
          yield { message: signedMessageJson(m), wait: true };
        }
      }
      for await (const reply of client.postMessages(requests())) {
        latencies.push(performance.now() - sentAt[Number(reply.index)]);
        if (reply.result.case === "outcome" && reply.result.value.status === MessageOutcome_Status.CONFIRMED) confirmed++;
        else other++;
      }
    }),
  );
  const wall = (performance.now() - t0) / 1000;
  await app.close();
  latencies.sort((a, b) => a - b);
  const result = {
    messages: messages.length,
    streams,
    confirmed,
    notConfirmed: other,
    wallSeconds: Math.round(wall * 100) / 100,
    confirmedPerSecond: Math.round(confirmed / wall),
    p50ConfirmMs: Math.round(percentile(latencies, 50)),
    p99ConfirmMs: Math.round(percentile(latencies, 99)),
  };
  progress(`  gRPC streaming (${streams} streams): ${confirmed}/${messages.length} confirmed in ${result.wallSeconds} s: ${result.confirmedPerSecond} confirmed/s, p50/p99 ${result.p50ConfirmMs}/${result.p99ConfirmMs} ms`);
  return result;
}

async function main(argv: string[]): Promise<number> {
  const flags = parseBenchFlags(
    argv,
    USAGE,
    { ...loadFlags({ messages: 2000, baselineMessages: 300 }), batch: { default: 100, min: 1, max: 1000 }, streams: { default: 8, min: 1, max: 256 } },
    { transport: "http" },
  );
  if ("exit" in flags) return flags.exit;
  const { messages: n, "baseline-messages": baselineN, concurrency, authors: authorCount, signers: signerCount, batch, inflight } = flags.num;
  const values = { json: flags.json };
  const transport = flags.str.transport;
  if (transport !== "http" && transport !== "grpc") {
    process.stderr.write(`--transport must be http or grpc, not ${transport}.\n`);
    return 2;
  }

  progress("starting hardhat node (automine)...");
  const node = await startHardhatNode();
  try {
    const setup = await setUpBenchRegistry(node, "bench", authorCount);
    const { authors, location, timestamp } = setup;
    const deployed = { address: setup.address, registry: setup.registry };
    const channel = setup.channel;
    progress(`pre-signing ${n + baselineN} messages...`);
    const batched = await presign(authors, location, channel, n, 0, timestamp);
    const baselineMessages = await presign(authors, location, channel, baselineN, 1_000_000, timestamp);
    const grpcMessages = transport === "grpc" ? await presign(authors, location, channel, n, 2_000_000, timestamp) : [];
    const signerKeys = Array.from({ length: signerCount }, (_, i) => devPrivateKey(10 + i));

    progress(`baseline: batch size 1, ${baselineN} messages, concurrency ${concurrency}, ${signerCount} signer(s)`);
    const baseline = await runOnce("baseline (batch 1)", node, deployed.address, signerKeys, 1, baselineMessages, concurrency, inflight);
    progress(`batched: batch size ${batch}, ${n} messages, concurrency ${concurrency}, ${signerCount} signer(s)`);
    const result = await runOnce(`batched (batch ${batch})`, node, deployed.address, signerKeys, batch, batched, concurrency, inflight);

    let grpc: Awaited<ReturnType<typeof runGrpcOnce>> | undefined;
    if (transport === "grpc") {
      progress(`gRPC: batch size ${batch}, ${n} messages on ${flags.num.streams} PostMessages streams`);
      grpc = await runGrpcOnce(node, deployed.address, signerKeys, batch, grpcMessages, flags.num.streams, inflight);
    }
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
      ...(grpc
        ? {
            http: { confirmedPerSecond: result.confirmedPerSecond, p99ConfirmMs: result.p99ConfirmMs },
            grpc,
            grpcOverHttp: Math.round((grpc.confirmedPerSecond / result.confirmedPerSecond) * 100) / 100,
          }
        : {}),
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
      if (grpc) process.stdout.write(`gRPC streaming: ${grpc.confirmedPerSecond} confirmed/s, p99 ${grpc.p99ConfirmMs} ms (HTTP in the same run: ${result.confirmedPerSecond}/s, p99 ${result.p99ConfirmMs} ms): ${summary.grpcOverHttp}x\n`);
      process.stdout.write(`CPU-bound estimate with ${summary.machine.cpus} free cores (derived from CPU ms/msg): ${summary.cpuBoundConfirmedPerSecond} confirmed/s\n`);
    }
    return result.failed === 0 && baseline.failed === 0 && (grpc?.notConfirmed ?? 0) === 0 ? 0 : 1;
  } finally {
    await node.stop();
  }
}

runBench("bench:relayer", main);
