/**
 * `pnpm bench:relayer [--json] [--chain hardhat|geth|both] [--messages N] [--rounds R] ...`:
 * relayer throughput, measured honestly. On each chain it deploys a registry, then
 *
 * 1. warms up (a short batched run, not counted: JIT, connections, caches; with
 *    --transport grpc, a short gRPC run too);
 * 2. runs the baseline (batch size 1) and the subject (batched) with the SAME number of
 *    pre-signed messages, --rounds times, alternating which goes first (baseline first
 *    in odd rounds, batched first in even ones), and reports the median round of each;
 * 3. runs the chain-only case: the same number of pre-signed messages sent straight to
 *    postBatch in batches from the same signer keys, pipelined, no relayer; the relayer's
 *    figure is printed as a fraction of it;
 * 4. checks every run's confirmed count against the chain (the channel's seq must grow
 *    by exactly that much) before printing anything.
 *
 * CPU per message comes from /proc (utime + stime) for the chain node, and for this
 * process, which runs the relayer and the HTTP clients together. The relayer's stage
 * timings (chainmail_relayer_stage_seconds) are in the JSON per chain.
 * Progress goes to stderr; `--json` prints one JSON object on stdout, per chain under
 * `chains.<hardhat|geth>`.
 */
import os from "node:os";
import { devPrivateKey } from "@chainmail/testkit";
import type { SignedMessage } from "@chainmail/protocol";
import { MessageOutcome_Status, RelayerService } from "@chainmail/protocol/grpc";
import { signedMessageJson } from "@chainmail/client";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { type RunningNode } from "@chainmail/testkit";
import { stageSummaries, type StageSummary } from "@chainmail/relayer";
import { nodeCpuSeconds, percentile, postAll, presign, loadFlags, parseBenchFlags, progress, runBench, setUpBenchRegistry, startBenchRelayer, type BenchRegistry } from "./bench/relayer-load.js";
import { CHAIN_DESCRIPTION, chainsFlag, startBenchChain, type ChainKind } from "./bench/chains.js";
import { chainOnly, type ChainOnlyResult } from "./bench/chain-only.js";

const USAGE = `Usage: pnpm bench:relayer [--json] [--chain hardhat|geth|both] [--transport http|grpc] [--messages N] [--rounds R] [--warmup N] [--concurrency C] [--authors A] [--signers S] [--batch B]

  --chain K              hardhat (automine), geth (1-second blocks, Osaka genesis, 100 M gas) or both [hardhat]
  --messages N           messages in each run: baseline, batched and chain-only alike [2000]
  --rounds R             rounds of baseline + batched, alternating which goes first [2]
  --warmup N             messages of the uncounted warm-up run [200]
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
  /** The channel's seq grew by this much during the run: must equal `confirmed`. */
  chainConfirmed: number;
  stages: Record<string, StageSummary>;
}

async function runOnce(
  label: string,
  node: RunningNode,
  setup: BenchRegistry,
  signerKeys: string[],
  batchMaxSize: number,
  messages: SignedMessage[],
  concurrency: number,
  inflight: number,
): Promise<RunResult> {
  const { app, address } = await startBenchRelayer(node.url, setup.address, signerKeys, batchMaxSize, inflight);
  const { submitter, index, metrics } = app.services;
  const seq0 = (await setup.registry.channelInfo(setup.channel))[2];
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
  const stages = await stageSummaries(metrics.stages);
  await app.close();
  // The relayer's own outcomes are not the evidence: the chain is.
  const chainConfirmed = Number((await setup.registry.channelInfo(setup.channel))[2] - seq0);
  if (chainConfirmed !== confirmed) throw new Error(`${label}: the relayer reported ${confirmed} confirmed, but the channel's seq on the chain grew by ${chainConfirmed}.`);
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
    chainConfirmed,
    stages,
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
type GrpcResult = Awaited<ReturnType<typeof runGrpcOnce>>;

async function runGrpcOnce(label: string, node: RunningNode, registryAddress: string, signerKeys: string[], batchMaxSize: number, messages: SignedMessage[], streams: number, inflight: number) {
  const { app } = await startBenchRelayer(node.url, registryAddress, signerKeys, batchMaxSize, inflight);
  const url = await app.grpc.listen({ host: "127.0.0.1", port: 0 });
  const client = createClient(RelayerService, createGrpcTransport({ baseUrl: url }));
  const latencies: number[] = [];
  let confirmed = 0;
  let other = 0;
  const notConfirmedBy: Record<string, number> = {};
  const load0 = os.loadavg()[0];
  const nodeCpu0 = nodeCpuSeconds(node);
  const selfCpu0 = process.cpuUsage();
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
        else {
          other++;
          const why = reply.result.case === "outcome" ? MessageOutcome_Status[reply.result.value.status] : `refused ${reply.result.value?.reason}`;
          notConfirmedBy[why] = (notConfirmedBy[why] ?? 0) + 1;
        }
      }
    }),
  );
  const wall = (performance.now() - t0) / 1000;
  const nodeCpu = nodeCpuSeconds(node) - nodeCpu0;
  const self = process.cpuUsage(selfCpu0);
  await app.close();
  latencies.sort((a, b) => a - b);
  const selfSeconds = (self.user + self.system) / 1e6;
  const result = {
    messages: messages.length,
    streams,
    confirmed,
    notConfirmed: other,
    notConfirmedBy,
    wallSeconds: Math.round(wall * 100) / 100,
    confirmedPerSecond: Math.round(confirmed / wall),
    p50ConfirmMs: Math.round(percentile(latencies, 50)),
    p99ConfirmMs: Math.round(percentile(latencies, 99)),
    // How long the pipeline took to deliver its first outcome (pre-check, a batch, a block, a receipt).
    firstConfirmMs: Math.round(latencies[0] ?? 0),
    // The same per-process CPU accounting as the HTTP runs (this process: relayer and gRPC clients).
    cpu: {
      nodeUtilisation: Math.round((nodeCpu / wall) * 100) / 100,
      relayerUtilisation: Math.round((selfSeconds / wall) * 100) / 100,
      nodeMsPerMessage: Math.round((nodeCpu * 1000 / Math.max(confirmed, 1)) * 100) / 100,
      relayerMsPerMessage: Math.round((selfSeconds * 1000 / Math.max(confirmed, 1)) * 100) / 100,
    },
    loadAverage: [Math.round(load0 * 100) / 100, Math.round(os.loadavg()[0] * 100) / 100],
  };
  progress(`  ${label}: ${confirmed}/${messages.length} confirmed in ${result.wallSeconds} s: ${result.confirmedPerSecond} confirmed/s, p50/p99 ${result.p50ConfirmMs}/${result.p99ConfirmMs} ms; CPU node ${result.cpu.nodeUtilisation} cores (${result.cpu.nodeMsPerMessage} ms/msg), relayer+clients ${result.cpu.relayerUtilisation} cores (${result.cpu.relayerMsPerMessage} ms/msg); load average ${result.loadAverage.join(" -> ")}${other > 0 ? `; not confirmed: ${JSON.stringify(notConfirmedBy)}` : ""}`);
  return result;
}

/**
 * A gRPC run sends every message at once (so its median latency is about half the run,
 * whatever its length); what does not scale with the run is the time to its first
 * outcome, while the pipeline fills. Under ten of those, filling and draining are a
 * large part of the run, and the figure says more about ramp-up than throughput.
 */
const rampDominated = (g: GrpcResult) => g.wallSeconds * 1000 < 10 * g.firstConfirmMs;
const RAMP_NOTE =
  "A gRPC run lasted less than ten times its first confirmation's latency: filling and draining the pipeline is a large part of it. Use more --messages for the steady-state ratio.";

const median = <T>(runs: T[], by: (r: T) => number): T => [...runs].sort((a, b) => by(a) - by(b))[Math.floor((runs.length - 1) / 2)];
const micros = (ms: number) => Math.round(ms * 1000);

interface Flags {
  n: number;
  rounds: number;
  warmup: number;
  concurrency: number;
  authorCount: number;
  signerCount: number;
  batch: number;
  inflight: number;
  transport: string;
  streams: number;
}

async function benchChain(kind: ChainKind, f: Flags) {
  progress(`[${kind}] starting ${CHAIN_DESCRIPTION[kind]}...`);
  const node = await startBenchChain(kind);
  try {
    const setup = await setUpBenchRegistry(node, "bench", f.authorCount);
    const { authors, location, timestamp, channel } = setup;
    const runs = 2 * f.rounds;
    const grpc = f.transport === "grpc";
    progress(`[${kind}] pre-signing ${(grpc ? 2 : 1) * f.warmup + (runs + 1 + (grpc ? f.rounds : 0)) * f.n} messages...`);
    let nonceBase = 0;
    const next = async (count: number) => {
      const messages = await presign(authors, location, channel, count, nonceBase, timestamp);
      nonceBase += Math.ceil(count / authors.length) + 1;
      return messages;
    };
    const warmup = await next(f.warmup);
    const sets = [];
    for (let i = 0; i < runs; i++) sets.push(await next(f.n));
    const chainOnlyMessages = await next(f.n);
    // gRPC runs in every round beside HTTP's batched run, with its own messages of the same count.
    const grpcSets = [];
    if (grpc) for (let i = 0; i < f.rounds; i++) grpcSets.push(await next(f.n));
    const grpcWarmup = grpc ? await next(f.warmup) : [];
    const signerKeys = Array.from({ length: f.signerCount }, (_, i) => devPrivateKey(10 + i));

    progress(`[${kind}] warm-up: ${f.warmup} messages, batch ${f.batch} (not counted)`);
    await runOnce("warm-up", node, setup, signerKeys, f.batch, warmup, f.concurrency, f.inflight);
    // gRPC's code paths (Connect, protobuf, the stream adapter) get their own warm-up:
    // otherwise its first round pays the compiler's warm-up that HTTP's did not.
    if (grpc) await runGrpcOnce("warm-up gRPC", node, setup.address, signerKeys, f.batch, grpcWarmup, f.streams, f.inflight);
    const baselines: RunResult[] = [];
    const batcheds: RunResult[] = [];
    const grpcs: GrpcResult[] = [];
    for (let r = 0; r < f.rounds; r++) {
      const runsOfRound: Array<"baseline" | "batched" | "grpc"> = grpc ? ["baseline", "batched", "grpc"] : ["baseline", "batched"];
      // Alternate which goes first (and, with gRPC, rotate): no run always meets a fresher chain.
      const order = runsOfRound.map((_, i) => runsOfRound[(i + r) % runsOfRound.length]);
      for (const which of order) {
        if (which === "grpc") {
          grpcs.push(await runGrpcOnce(`[${kind}] round ${r + 1} gRPC (batch ${f.batch}, ${f.streams} streams)`, node, setup.address, signerKeys, f.batch, grpcSets.shift()!, f.streams, f.inflight));
          continue;
        }
        const messages = sets.shift()!;
        if (which === "baseline") baselines.push(await runOnce(`[${kind}] round ${r + 1} baseline (batch 1)`, node, setup, signerKeys, 1, messages, f.concurrency, f.inflight));
        else batcheds.push(await runOnce(`[${kind}] round ${r + 1} batched (batch ${f.batch})`, node, setup, signerKeys, f.batch, messages, f.concurrency, f.inflight));
      }
    }
    progress(`[${kind}] chain-only: ${f.n} pre-signed messages straight to postBatch, batches of ${f.batch}, ${f.signerCount} senders, ${f.inflight} in flight each`);
    const only: ChainOnlyResult = await chainOnly(node, setup, signerKeys, chainOnlyMessages, f.batch, f.inflight);
    const subject = median(batcheds, (r) => r.confirmedPerSecond);
    const grpcResult = grpcs.length > 0 ? { ...median(grpcs, (r) => r.confirmedPerSecond), rounds: grpcs } : undefined;
    const baseline = median(baselines, (r) => r.confirmedPerSecond);
    return {
      chain: CHAIN_DESCRIPTION[kind],
      confirmedPerSecond: subject.confirmedPerSecond,
      p99: subject.p99ConfirmMs,
      p50ConfirmMs: subject.p50ConfirmMs,
      p99ConfirmMs: subject.p99ConfirmMs,
      baselineConfirmedPerSecond: baseline.confirmedPerSecond,
      speedupVsBaseline: Math.round((subject.confirmedPerSecond / baseline.confirmedPerSecond) * 10) / 10,
      chainOnlyConfirmedPerSecond: only.confirmedPerSecond,
      fractionOfChainOnly: Math.round((subject.confirmedPerSecond / only.confirmedPerSecond) * 100) / 100,
      gasPerMessage: subject.gasPerMessage,
      /** CPU microseconds per confirmed message, per process the benchmark runs (from /proc and process.cpuUsage). */
      cpuMicrosPerMessage: {
        chainNode: micros(subject.cpu.nodeMsPerMessage),
        relayerAndClients: micros(subject.cpu.relayerMsPerMessage),
        chainNodeChainOnly: only.nodeCpuMicrosPerMessage,
        ...(grpcResult ? { grpcChainNode: micros(grpcResult.cpu.nodeMsPerMessage), grpcRelayerAndClients: micros(grpcResult.cpu.relayerMsPerMessage) } : {}),
      },
      stages: subject.stages,
      rounds: { batched: batcheds, baseline: baselines },
      chainOnly: only,
      ...(grpcResult
        ? {
            grpc: grpcResult,
            http: { confirmedPerSecond: subject.confirmedPerSecond, p99ConfirmMs: subject.p99ConfirmMs },
            grpcOverHttp: Math.round((grpcResult.confirmedPerSecond / subject.confirmedPerSecond) * 100) / 100,
            // Each round's gRPC run over the same round's HTTP batched run: medians of two
            // rounds can pair a fast run of one with a slow run of the other.
            grpcOverHttpByRound: grpcs.map((g, i) => Math.round((g.confirmedPerSecond / batcheds[i].confirmedPerSecond) * 100) / 100),
            ...(grpcs.some(rampDominated) ? { note: RAMP_NOTE } : {}),
          }
        : {}),
    };
  } finally {
    await node.stop();
  }
}

async function main(argv: string[]): Promise<number> {
  const { "baseline-messages": _unused, ...load } = loadFlags({ messages: 2000, baselineMessages: 2000 });
  const flags = parseBenchFlags(
    argv,
    USAGE,
    { ...load, rounds: { default: 2, min: 1, max: 20 }, warmup: { default: 200, min: 1, max: 100_000 }, batch: { default: 100, min: 1, max: 1000 }, streams: { default: 8, min: 1, max: 256 } },
    { transport: "http", chain: "hardhat" },
  );
  if ("exit" in flags) return flags.exit;
  const transport = flags.str.transport;
  if (transport !== "http" && transport !== "grpc") {
    process.stderr.write(`--transport must be http or grpc, not ${transport}.\n`);
    return 2;
  }
  const kinds = chainsFlag(flags.str.chain);
  if (typeof kinds === "string") {
    process.stderr.write(kinds + "\n");
    return 2;
  }
  const f: Flags = {
    n: flags.num.messages,
    rounds: flags.num.rounds,
    warmup: flags.num.warmup,
    concurrency: flags.num.concurrency,
    authorCount: flags.num.authors,
    signerCount: flags.num.signers,
    batch: flags.num.batch,
    inflight: flags.num.inflight,
    transport,
    streams: flags.num.streams,
  };
  const chains: Partial<Record<ChainKind, Awaited<ReturnType<typeof benchChain>>>> = {};
  for (const kind of kinds) chains[kind] = await benchChain(kind, f);
  const summary = {
    benchmark: "relayer",
    machine: { cpus: os.cpus().length, node: process.version, loadAverageAtEnd: os.loadavg()[0] },
    messagesPerRun: f.n,
    rounds: f.rounds,
    warmupMessages: f.warmup,
    concurrency: f.concurrency,
    authors: f.authorCount,
    signers: f.signerCount,
    inflightPerSigner: f.inflight,
    bodyBytes: 256,
    batchMaxSize: f.batch,
    goals: { hardhatConfirmedPerSecond: 2000, gethConfirmedPerSecond: 1500, gethP99Ms: 2500, cpuMicrosPerMessage: 400 },
    chains,
    // Issue 10's keys: gRPC streaming beside HTTP's batched run, on the first chain measured.
    ...(chains[kinds[0]]?.grpc
      ? { grpc: chains[kinds[0]]!.grpc, http: chains[kinds[0]]!.http, grpcOverHttp: chains[kinds[0]]!.grpcOverHttp, grpcOverHttpByRound: chains[kinds[0]]!.grpcOverHttpByRound }
      : {}),
  };
  if (flags.json) {
    process.stdout.write(JSON.stringify(summary) + "\n");
  } else {
    for (const [kind, c] of Object.entries(chains)) {
      process.stdout.write(`${kind}: ${c.chain}\n`);
      const b = c.rounds.baseline;
      const rows: Array<[string, string | number]> = [
        ["batched confirmed/s (median of rounds)", `${c.confirmedPerSecond} (${c.rounds.batched.map((r) => r.confirmedPerSecond).join(", ")})`],
        ["baseline confirmed/s (batch 1)", `${c.baselineConfirmedPerSecond} (${b.map((r) => r.confirmedPerSecond).join(", ")})`],
        ["chain-only confirmed/s (no relayer)", c.chainOnlyConfirmedPerSecond],
        ["relayer as a fraction of chain-only", c.fractionOfChainOnly],
        ["p50 / p99 ms (batched)", `${c.p50ConfirmMs} / ${c.p99ConfirmMs}`],
        ["gas per message", c.gasPerMessage],
        ["CPU µs/msg: node / relayer+clients", `${c.cpuMicrosPerMessage.chainNode} / ${c.cpuMicrosPerMessage.relayerAndClients} (node in chain-only: ${c.cpuMicrosPerMessage.chainNodeChainOnly})`],
        ["stage means ms", Object.entries(c.stages).map(([k, v]) => `${k} ${v.meanMs}`).join(", ")],
      ];
      for (const [a, v] of rows) process.stdout.write(`  ${a.padEnd(40)} ${v}\n`);
      if (c.grpc) {
        process.stdout.write(`  ${"gRPC streaming confirmed/s (median)".padEnd(40)} ${c.grpc.confirmedPerSecond} (${c.grpc.rounds.map((r) => r.confirmedPerSecond).join(", ")}), p99 ${c.grpc.p99ConfirmMs} ms: ${c.grpcOverHttp}x HTTP batched\n`);
        process.stdout.write(`  ${"gRPC CPU µs/msg: node / relayer+clients".padEnd(40)} ${c.cpuMicrosPerMessage.grpcChainNode} / ${c.cpuMicrosPerMessage.grpcRelayerAndClients}\n`);
        process.stdout.write(`  ${"gRPC over HTTP batched, by round".padEnd(40)} ${(c.grpcOverHttpByRound ?? []).join(", ")}\n`);
        if (c.note) process.stdout.write(`  note: ${c.note}\n`);
      }
    }
    process.stdout.write(`every run's confirmed count matched the chain (channel seq); ${f.n} messages per run, ${f.rounds} round(s) alternating order, after a ${f.warmup}-message warm-up\n`);
  }
  const failed = Object.values(chains).some((c) => [...c.rounds.batched, ...c.rounds.baseline].some((r) => r.failed > 0) || (c.grpc?.notConfirmed ?? 0) > 0);
  return failed ? 1 : 0;
}

runBench("bench:relayer", main);
