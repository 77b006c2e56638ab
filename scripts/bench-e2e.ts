/**
 * `pnpm bench [--json] [--chain hardhat|geth|both] [--sizes 1,10,50,100] [--messages N] [--rounds R] ...`:
 * the whole pipeline, HTTP -> relayer -> chain -> mirror -> Kafka, on this machine.
 *
 * Starts its own chain node (`--chain`: Hardhat's node, automine, or geth --dev with
 * 1-second blocks; `both` runs this benchmark once per chain, one after the other, and
 * merges their JSON under `chains.<kind>`), its own Kafka broker (scripts/kafka/start.sh,
 * free ports, throw-away directory; or the one in KAFKA_BROKERS), the mirror as a child
 * process (`chainmail mirror`, finality latest, 0 confirmations, fast polling, unique
 * topics) and, per batch size, an in-process relayer on HTTP. Many authors' pre-signed
 * messages are POSTed by C concurrent clients; a kafkajs consumer in read_committed mode
 * on the mirror's messages topic matches records to posted messages by digest and notes
 * when it receives each one. Reported per batch size: messages per second delivered to
 * Kafka, latency from POST to Kafka delivery (p50/p99) split into POST -> on-chain
 * confirmation and confirmation -> Kafka, gas per message, and the CPU each process
 * used (to show what limits throughput). Batch size 1 (one transaction per message,
 * CHAINMAIL_BATCH_MAX=1) is the baseline, with the same message count as every other
 * size; after an uncounted warm-up, each size runs --rounds times, the order of sizes
 * alternating (ascending, then descending), and the median round is reported. Every
 * run's confirmed count is checked against the channel's seq on the chain.
 * Writes a bar chart to docs/bench-e2e.svg (hardhat only).
 * Everything it starts is stopped at the end, on failure and on Ctrl-C.
 * Progress goes to stderr; `--json` prints one JSON object on stdout.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { randomBytes } from "node:crypto";
import { devPrivateKey } from "@chainmail/testkit";
import { digestOf, type SignedMessage } from "@chainmail/protocol";
import type { RelayerApp } from "@chainmail/relayer";
import { execFile } from "node:child_process";
import { freePort, REPO_ROOT, waitFor, type RunningNode } from "@chainmail/testkit";
import { stageSummaries } from "@chainmail/relayer";
import { CHAIN_DESCRIPTION, chainsFlag, startBenchChain, type ChainKind } from "./bench/chains.js";
import { kafkaBrokers, MirrorProcess, OwnBroker, testKafka, uniqueTopics } from "@chainmail/testkit";
import { barChartSvg } from "./bench/bar-chart-svg.js";
import { guardAfterExit, type Guard } from "./bench/guardian.js";
import {
  BODY_BYTES,
  loadFlags,
  nodeCpuSeconds,
  parseBenchFlags,
  percentile,
  postAll,
  presign,
  processCpuSeconds,
  progress,
  round2,
  runBench,
  setUpBenchRegistry,
  startBenchRelayer,
  wholeNumber,
} from "./bench/relayer-load.js";

const USAGE = `Usage: pnpm bench [--json] [--sizes LIST] [--messages N] [--baseline-messages N] [--concurrency C] ...

  --sizes LIST           relayer batch sizes to measure, comma-separated [1,10,50,100];
                         1 (the baseline: one transaction per message) is always included
  --chain K              hardhat (automine), geth (1-second blocks, Osaka genesis, 100 M gas) or both [hardhat]
  --finality F           the mirror's --finality: latest (0 confirmations) or safe [latest]
  --rounds R             runs per batch size, the order of sizes alternating; the median is reported [1]
  --messages N           messages per run, every batch size alike [5000]
  --baseline-messages N  messages in the batch-size-1 run [same as --messages]
  --warmup N             unmeasured messages first, through the whole pipeline [100]
  --concurrency C        concurrent HTTP clients [128]
  --authors A            distinct authors (channel members) [100]
  --signers S            relayer signer keys (lanes) [2]
  --inflight F           unconfirmed transactions per signer [4]
  --poll-ms N            the mirror's poll interval [150]
  --svg PATH             where to write the chart [docs/bench-e2e.svg]; "none" to skip
  --json                 print one JSON object on stdout (progress goes to stderr)

Uses the broker in KAFKA_BROKERS when set; otherwise starts a private one.`;

interface Point {
  batchMaxSize: number;
  messages: number;
  delivered: number;
  confirmed: number;
  rejected: number;
  failed: number;
  deliveredPerSecond: number;
  confirmedPerSecond: number;
  p50DeliverMs: number;
  p95DeliverMs: number;
  p99DeliverMs: number;
  /** POST -> the relayer's 202 (what paces the closed-loop clients). */
  p50AcceptMs: number;
  /** POST -> the relayer saw the transaction's receipt (on chain). */
  p50ConfirmMs: number;
  p99ConfirmMs: number;
  /** Confirmation -> the consumer received the record: the mirror's share (poll + Kafka transaction + fetch). */
  p50ConfirmToKafkaMs: number;
  p99ConfirmToKafkaMs: number;
  gasPerMessage: number;
  transactions: number;
  meanBatchSize: number;
  kafkaTransactions: number;
  meanEventsPerKafkaTransaction: number;
  wallSeconds: number;
  /** CPU cores used on average during the run, per process (2 cores on the reference machine). */
  cpuCores: { chainNode: number; kafkaBroker: number | null; mirror: number; benchProcess: number; total: number };
  /** CPU milliseconds per delivered message, per process: the cost that does not depend on other load. */
  cpuMsPerMessage: { chainNode: number; kafkaBroker: number | null; mirror: number; benchProcess: number; total: number };
  /** Derived, not measured: delivered/s if these processes had every core of the machine (cores x 1000 / total CPU ms per message). */
  cpuBoundDeliveredPerSecond: number;
  /** This process (relayer + HTTP clients + consumer): event-loop delay, which also delays the timestamps. */
  eventLoopDelayP99Ms: number;
  loadAverage: [number, number];
  /** The channel's seq grew by this much during the run: must equal `confirmed`. */
  chainConfirmed: number;
  stages: Awaited<ReturnType<typeof stageSummaries>>;
}

/** One tracked message: when its POST started, when it was confirmed, when Kafka delivered it. */
interface Track {
  postedAt: number;
  acceptedAt?: number;
  confirmedAt?: number;
  deliveredAt?: number;
}

/** kafkajs lives in the relayer package; its consumer type via the test helper. */
type Consumer = ReturnType<ReturnType<typeof testKafka>["consumer"]>;

/** Everything the benchmark started, stopped in reverse order exactly once. */
class Stack {
  node?: RunningNode;
  broker?: OwnBroker;
  mirror?: MirrorProcess;
  consumer?: Consumer;
  relayer?: RelayerApp;
  /** Detached watchers that stop the children if this process dies first (e.g. SIGKILLed). */
  readonly guards: Guard[] = [];
  private stopping?: Promise<void>;

  guard(command: string): void {
    this.guards.push(guardAfterExit(command));
  }

  stop(): Promise<void> {
    this.stopping ??= (async () => {
      for (const g of this.guards) g.cancel();
      const step = async (what: string, f: () => Promise<unknown>) => {
        try {
          await f();
        } catch (error) {
          progress(`  stopping ${what}: ${(error as Error).message}`);
        }
      };
      if (this.relayer) await step("the relayer", () => this.relayer!.close());
      if (this.consumer) await step("the consumer", () => this.consumer!.disconnect());
      if (this.mirror) await step("the mirror", () => this.mirror!.stop());
      if (this.node) await step("the hardhat node", () => this.node!.stop());
      if (this.broker) await step("the Kafka broker", () => this.broker!.destroy());
    })();
    return this.stopping;
  }
}

async function scrapeMetric(url: string, name: string): Promise<number> {
  const text = await (await fetch(url)).text();
  const line = text.split("\n").find((l) => l.startsWith(name + " ") || l.startsWith(name + "{"));
  return line ? Number(line.split(" ").pop()) : 0;
}

function brokerPid(broker: OwnBroker | undefined): number | null {
  if (!broker) return null;
  try {
    return Number(readFileSync(path.join(broker.dir, "broker.pid"), "utf8").trim());
  } catch {
    return null;
  }
}

function sortedOf(values: Array<number | undefined>): number[] {
  return values.filter((v): v is number => v !== undefined).sort((a, b) => a - b);
}

// kafkajs 2.2.4 on Node >= 23 schedules a timer with a negative delay on every connect
// (tulios/kafkajs#1751; harmless, Node clamps it to 1 ms). Keep every other warning.
process.removeAllListeners("warning");
process.on("warning", (warning) => {
  if (warning.name !== "TimeoutNegativeWarning") process.stderr.write(`${warning.name}: ${warning.message}\n`);
});

/** Set on Ctrl-C/SIGTERM: the run is being stopped, so its errors are expected. */
let signalled = false;

async function main(argv: string[]): Promise<number> {
  const flags = parseBenchFlags(
    argv,
    USAGE,
    { ...loadFlags({ messages: 5000, baselineMessages: 0 }), "baseline-messages": { default: 0, min: 0, max: 1_000_000 }, rounds: { default: 1, min: 1, max: 20 }, warmup: { default: 100, min: 0, max: 100_000 }, "poll-ms": { default: 150, min: 10, max: 60_000 } },
    { sizes: "1,10,50,100", svg: "docs/bench-e2e.svg", chain: "hardhat", finality: "latest" },
  );
  if ("exit" in flags) return flags.exit;
  const { messages: n, warmup: warmupN, concurrency, authors: authorCount, signers: signerCount, inflight, "poll-ms": pollMs, rounds } = flags.num;
  const baselineN = flags.num["baseline-messages"] || n;
  const kinds = chainsFlag(flags.str.chain);
  if (typeof kinds === "string") {
    process.stderr.write(kinds + "\n");
    return 2;
  }
  if (flags.str.finality !== "latest" && flags.str.finality !== "safe") {
    process.stderr.write(`--finality must be latest or safe, not ${flags.str.finality}.\n`);
    return 2;
  }
  if (kinds.length > 1) return bothChains(argv, kinds);
  const kind = kinds[0];
  const values = { json: flags.json, svg: flags.str.svg };
  let sizes: number[];
  try {
    sizes = [...new Set([1, ...flags.str.sizes.split(",").map((s) => wholeNumber("sizes entry", s.trim(), 1, 1000))])].sort((a, b) => a - b);
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n`);
    return 2;
  }

  const stack = new Stack();
  // `on`, not `once`, and kept to the end: under `tsx` a Ctrl-C reaches this process
  // twice (from the terminal and relayed by the tsx parent), and with no listener left
  // tsx exits at once, in the middle of stopping the broker.
  const onSignal = (signal: NodeJS.Signals) => {
    if (signalled) return;
    signalled = true;
    progress(`${signal}: stopping everything the benchmark started...`);
    void stack.stop().finally(() => process.exit(130));
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  const started = performance.now();
  const loadAtStart = os.loadavg()[0];
  try {
    const externalBrokers = process.env.KAFKA_BROKERS ? kafkaBrokers() : null;
    progress(`starting ${CHAIN_DESCRIPTION[kind]}${externalBrokers ? "" : " and a private Kafka broker"}...`);
    if (!externalBrokers) stack.broker = new OwnBroker();
    if (stack.broker) {
      // Registered before the start: stop.sh is a no-op when no broker runs there.
      const dir = JSON.stringify(stack.broker.dir);
      stack.guard(`KAFKA_RUN_DIR=${dir} bash ${JSON.stringify(path.join(REPO_ROOT, "scripts/kafka/stop.sh"))} >/dev/null 2>&1; rm -rf ${dir}`);
    }
    const [node] = await Promise.all([
      startBenchChain(kind).then((x) => {
        stack.node = x;
        // Its own process group (detached), so the group id is its pid.
        stack.guard(`kill -KILL -${x.process.pid} 2>/dev/null`);
        return x;
      }),
      stack.broker?.start(),
    ]);
    const brokers = externalBrokers ?? stack.broker!.brokers;

    const setup = await setUpBenchRegistry(node, "bench", authorCount);
    const total = warmupN + rounds * sizes.reduce((s, size) => s + (size === 1 ? baselineN : n), 0);
    progress(`pre-signing ${total} messages from ${authorCount} authors...`);
    const signStart = performance.now();
    // Each run gets its own nonce range per author, so no two runs collide; the order of
    // sizes alternates per round so neither the first nor the last place favours one.
    const runs: Array<{ size: number; messages: SignedMessage[] }> = [];
    const warmup = await presign(setup.authors, setup.location, setup.channel, warmupN, 0, setup.timestamp);
    for (let r = 0; r < rounds; r++) {
      for (const size of r % 2 === 0 ? sizes : [...sizes].reverse()) {
        runs.push({ size, messages: await presign(setup.authors, setup.location, setup.channel, size === 1 ? baselineN : n, (runs.length + 1) * 1_000_000, setup.timestamp) });
      }
    }
    progress(`  signed in ${((performance.now() - signStart) / 1000).toFixed(1)} s`);

    // The mirror: a separate process, as in production; latest block, no confirmations
    // (automine: every block is final), polling fast for low latency.
    const topics = uniqueTopics("bench-e2e");
    const metricsPort = await freePort();
    progress(`starting the mirror (poll ${pollMs} ms, finality ${flags.str.finality}, topic ${topics.messages})...`);
    stack.mirror = new MirrorProcess([
      "--rpc-url", node.url,
      "--registry", setup.address,
      "--brokers", brokers.join(","),
      "--messages-topic", topics.messages,
      "--membership-topic", topics.membership,
      "--cursor-topic", topics.cursor,
      "--transactional-id", `bench-e2e-${randomBytes(4).toString("hex")}`,
      "--finality", flags.str.finality,
      "--confirmations", "0",
      "--poll-interval-ms", String(pollMs),
      "--metrics-port", String(metricsPort),
      "--log-level", "info",
    ]);
    stack.guard(`kill -KILL -${stack.mirror.child.pid} 2>/dev/null`);
    await stack.mirror.waitForLog(/mirror started/, 120_000);
    const mirrorMetrics = `http://127.0.0.1:${metricsPort}/metrics`;

    // The consumer: read_committed, so it sees only what the mirror's Kafka transactions committed.
    const tracks = new Map<string, Track>();
    let delivered = 0;
    let lastDeliveredAt = 0;
    let unmatched = 0;
    const consumer = testKafka(brokers).consumer({ groupId: `bench-e2e-${randomBytes(4).toString("hex")}`, readUncommitted: false, maxWaitTimeInMs: 20 });
    stack.consumer = consumer;
    await consumer.connect();
    await consumer.subscribe({ topic: topics.messages, fromBeginning: true });
    let joined = false;
    consumer.on(consumer.events.GROUP_JOIN, () => (joined = true));
    await consumer.run({
      partitionsConsumedConcurrently: 3,
      eachBatch: async ({ batch }) => {
        // One receive time per fetched batch: when the records reached this process.
        const now = performance.now();
        for (const message of batch.messages) {
          const digest = (JSON.parse(message.value!.toString()) as { digest: string }).digest;
          const track = tracks.get(digest);
          if (!track) {
            unmatched++;
            continue;
          }
          if (track.deliveredAt === undefined) {
            track.deliveredAt = now;
            delivered++;
            lastDeliveredAt = now;
          }
        }
      },
    });
    await waitFor("the consumer to join its group", async () => joined, { timeoutMs: 60_000 });

    const signerKeys = Array.from({ length: signerCount }, (_, i) => devPrivateKey(10 + i));
    const loop = monitorEventLoopDelay({ resolution: 10 });
    loop.enable();

    /** One run: a fresh relayer with `size`, every message posted, waited for in Kafka. */
    const runPoint = async (size: number, messages: SignedMessage[], label: string): Promise<Point> => {
      const { app, address } = await startBenchRelayer(node.url, setup.address, signerKeys, size, inflight);
      stack.relayer = app;
      const { submitter, index, metrics } = app.services;
      const mine: Track[] = messages.map(() => ({ postedAt: NaN }));
      messages.forEach((m, i) => tracks.set(digestOf(setup.location, m), mine[i]));
      const deliveredBefore = delivered;
      let confirmed = 0;
      let rejected = 0;
      let failed = 0;
      const settledAll: Promise<void>[] = [];
      const settle = (status: string | undefined, track: Track) => {
        if (status === "confirmed") {
          confirmed++;
          track.confirmedAt = performance.now();
        } else if (status === "rejected") rejected++;
        else failed++;
      };
      const load0 = os.loadavg()[0];
      const kafkaPid = brokerPid(stack.broker);
      const cpu0 = { node: nodeCpuSeconds(node), kafka: kafkaPid ? processCpuSeconds(kafkaPid) : 0, mirror: processCpuSeconds(stack.mirror!.child.pid!), self: process.cpuUsage() };
      const kafkaTx0 = await scrapeMetric(mirrorMetrics, "chainmail_mirror_transactions_total");
      const seq0 = (await setup.registry.channelInfo(setup.channel))[2];
      loop.reset();
      const t0 = performance.now();
      await postAll(
        address,
        messages,
        concurrency,
        (i, _started, { status, json }) => {
          mine[i].acceptedAt = performance.now();
          if (status !== 202 || !json.digest) {
            if (json.status) settle(json.status, mine[i]);
            else {
              failed++;
              progress(`  unexpected ${status}: ${json.code} ${json.message}`);
            }
            return;
          }
          const entry = submitter.get(json.digest);
          if (entry) settledAll.push(entry.settled.then((s) => settle(s.status, mine[i])));
          else settle(index.get(json.digest)?.status, mine[i]);
        },
        (i, startedMs) => (mine[i].postedAt = startedMs),
      );
      await Promise.all(settledAll);
      const confirmedAt = performance.now();
      await waitFor(`${label}: all ${confirmed} confirmed messages in Kafka`, async () => delivered - deliveredBefore >= confirmed, { timeoutMs: 120_000, intervalMs: 5 });
      const end = Math.max(lastDeliveredAt, confirmedAt);
      const wall = (end - t0) / 1000;
      const cpu = {
        node: nodeCpuSeconds(node) - cpu0.node,
        kafka: kafkaPid ? processCpuSeconds(kafkaPid) - cpu0.kafka : null,
        mirror: processCpuSeconds(stack.mirror!.child.pid!) - cpu0.mirror,
        self: (() => {
          const u = process.cpuUsage(cpu0.self);
          return (u.user + u.system) / 1e6;
        })(),
      };
      // Every record is delivered by now, so the counter includes this run's last Kafka transaction.
      const kafkaTransactions = (await scrapeMetric(mirrorMetrics, "chainmail_mirror_transactions_total")) - kafkaTx0;
      const gasUsed = Number((await metrics.gasUsed.get()).values[0]?.value ?? 0);
      const txs = (await metrics.transactions.get()).values.reduce((s, v) => s + (v.labels.result === "mined" ? v.value : 0), 0);
      const stages = await stageSummaries(metrics.stages);
      await app.close();
      stack.relayer = undefined;
      // The relayer's own outcomes are not the evidence: the chain is.
      const chainConfirmed = Number((await setup.registry.channelInfo(setup.channel))[2] - seq0);
      if (chainConfirmed !== confirmed) throw new Error(`${label}: the relayer reported ${confirmed} confirmed, but the channel's seq on the chain grew by ${chainConfirmed}.`);

      const deliver = sortedOf(mine.map((t) => (t.deliveredAt === undefined ? undefined : t.deliveredAt - t.postedAt)));
      const confirm = sortedOf(mine.map((t) => (t.confirmedAt === undefined ? undefined : t.confirmedAt - t.postedAt)));
      const mirrorShare = sortedOf(mine.map((t) => (t.confirmedAt === undefined || t.deliveredAt === undefined ? undefined : t.deliveredAt - t.confirmedAt)));
      const accept = sortedOf(mine.map((t) => (t.acceptedAt === undefined ? undefined : t.acceptedAt - t.postedAt)));
      const cores = (s: number) => round2(s / wall);
      const perMessage = (s: number) => round2((s * 1000) / Math.max(deliver.length, 1));
      const cpuTotal = cpu.node + (cpu.kafka ?? 0) + cpu.mirror + cpu.self;
      const point: Point = {
        batchMaxSize: size,
        messages: messages.length,
        delivered: deliver.length,
        confirmed,
        rejected,
        failed,
        deliveredPerSecond: Math.round(deliver.length / wall),
        confirmedPerSecond: Math.round(confirmed / ((confirmedAt - t0) / 1000)),
        p50DeliverMs: Math.round(percentile(deliver, 50)),
        p95DeliverMs: Math.round(percentile(deliver, 95)),
        p99DeliverMs: Math.round(percentile(deliver, 99)),
        p50AcceptMs: Math.round(percentile(accept, 50)),
        p50ConfirmMs: Math.round(percentile(confirm, 50)),
        p99ConfirmMs: Math.round(percentile(confirm, 99)),
        p50ConfirmToKafkaMs: Math.round(percentile(mirrorShare, 50)),
        p99ConfirmToKafkaMs: Math.round(percentile(mirrorShare, 99)),
        gasPerMessage: confirmed > 0 ? Math.round(gasUsed / confirmed) : NaN,
        transactions: txs,
        meanBatchSize: txs > 0 ? Math.round(((confirmed + rejected) / txs) * 10) / 10 : NaN,
        kafkaTransactions,
        meanEventsPerKafkaTransaction: kafkaTransactions > 0 ? Math.round((deliver.length / kafkaTransactions) * 10) / 10 : NaN,
        wallSeconds: round2(wall),
        cpuCores: {
          chainNode: cores(cpu.node),
          kafkaBroker: cpu.kafka === null ? null : cores(cpu.kafka),
          mirror: cores(cpu.mirror),
          benchProcess: cores(cpu.self),
          total: cores(cpuTotal),
        },
        cpuMsPerMessage: {
          chainNode: perMessage(cpu.node),
          kafkaBroker: cpu.kafka === null ? null : perMessage(cpu.kafka),
          mirror: perMessage(cpu.mirror),
          benchProcess: perMessage(cpu.self),
          total: perMessage(cpuTotal),
        },
        cpuBoundDeliveredPerSecond: Math.round((os.cpus().length * 1000) / perMessage(cpuTotal)),
        eventLoopDelayP99Ms: round2(loop.percentile(99) / 1e6),
        loadAverage: [round2(load0), round2(os.loadavg()[0])],
        chainConfirmed,
        stages,
      };
      progress(
        `  ${label}: ${point.delivered}/${point.messages} delivered in ${point.wallSeconds} s = ${point.deliveredPerSecond}/s; POST->Kafka p50/p99 ${point.p50DeliverMs}/${point.p99DeliverMs} ms (confirm p50 ${point.p50ConfirmMs}, confirm->Kafka p50 ${point.p50ConfirmToKafkaMs}); ${point.transactions} txs (mean batch ${point.meanBatchSize}), ${point.kafkaTransactions} Kafka txs; CPU cores node ${point.cpuCores.chainNode}, kafka ${point.cpuCores.kafkaBroker}, mirror ${point.cpuCores.mirror}, bench ${point.cpuCores.benchProcess} (total ${point.cpuCores.total}); load ${point.loadAverage.join(" -> ")}`,
      );
      return point;
    };

    if (warmupN > 0) {
      progress(`warm-up: ${warmupN} messages at batch size ${sizes[sizes.length - 1]} (not reported)...`);
      await runPoint(sizes[sizes.length - 1], warmup, "warm-up");
    }
    const all: Point[] = [];
    for (const [i, { size, messages }] of runs.entries()) {
      progress(`round ${Math.floor(i / sizes.length) + 1}, batch size ${size}${size === 1 ? " (baseline, one transaction per message)" : ""}: ${messages.length} messages, concurrency ${concurrency}, ${signerCount} signer(s)...`);
      all.push(await runPoint(size, messages, `batch ${size}`));
    }
    loop.disable();
    // Per size, the median round by delivered/s.
    const points: Point[] = sizes.map((size) => {
      const mine = all.filter((p) => p.batchMaxSize === size).sort((a, b) => a.deliveredPerSecond - b.deliveredPerSecond);
      return mine[Math.floor((mine.length - 1) / 2)];
    });

    const baseline = points.find((p) => p.batchMaxSize === 1)!;
    const best = points[points.length - 1];
    const summary = {
      benchmark: "e2e",
      pipeline: `HTTP POST -> relayer (in-process) -> ${CHAIN_DESCRIPTION[kind]} -> mirror (child process, finality ${flags.str.finality}) -> Kafka -> read_committed consumer`,
      rounds,
      chains: {
        [kind]: {
          chain: CHAIN_DESCRIPTION[kind],
          deliveredPerSecond: best.deliveredPerSecond,
          confirmedPerSecond: best.confirmedPerSecond,
          p99: best.p99DeliverMs,
          p99DeliverMs: best.p99DeliverMs,
          baselineDeliveredPerSecond: baseline.deliveredPerSecond,
          /** CPU microseconds per delivered message, per process the benchmark starts (/proc). */
          cpuMicrosPerMessage: {
            chainNode: Math.round(best.cpuMsPerMessage.chainNode * 1000),
            kafkaBroker: best.cpuMsPerMessage.kafkaBroker === null ? null : Math.round(best.cpuMsPerMessage.kafkaBroker * 1000),
            mirror: Math.round(best.cpuMsPerMessage.mirror * 1000),
            relayerAndClients: Math.round(best.cpuMsPerMessage.benchProcess * 1000),
          },
          stages: best.stages,
          rounds: all,
        },
      },
      machine: { cpus: os.cpus().length, node: process.version, loadAverageAtStart: round2(loadAtStart), loadAverageAtEnd: round2(os.loadavg()[0]) },
      kafka: externalBrokers ? `external (${externalBrokers.join(",")})` : "private broker (scripts/kafka/start.sh)",
      concurrency,
      authors: authorCount,
      signers: signerCount,
      inflightPerSigner: inflight,
      bodyBytes: BODY_BYTES,
      mirrorPollMs: pollMs,
      batchMaxSize: best.batchMaxSize,
      messages: best.messages,
      delivered: best.delivered,
      deliveredPerSecond: best.deliveredPerSecond,
      p50DeliverMs: best.p50DeliverMs,
      p99DeliverMs: best.p99DeliverMs,
      gasPerMessage: best.gasPerMessage,
      cpuMsPerMessage: best.cpuMsPerMessage.total,
      cpuBoundDeliveredPerSecond: best.cpuBoundDeliveredPerSecond,
      speedupVsBaseline: Math.round((best.deliveredPerSecond / baseline.deliveredPerSecond) * 10) / 10,
      unmatchedRecords: unmatched,
      baseline: { batchMaxSize: 1, messages: baseline.messages, delivered: baseline.delivered, deliveredPerSecond: baseline.deliveredPerSecond, p50DeliverMs: baseline.p50DeliverMs, p99DeliverMs: baseline.p99DeliverMs, gasPerMessage: baseline.gasPerMessage },
      points,
      totalSeconds: Math.round((performance.now() - started) / 1000),
      chart: values.svg === "none" ? null : values.svg,
    };

    if (values.svg !== "none" && kind === "hardhat") {
      const file = path.resolve(REPO_ROOT, values.svg);
      mkdirSync(path.dirname(file), { recursive: true });
      writeFileSync(
        file,
        barChartSvg({
          title: "ChainMail end to end: messages delivered to Kafka per second",
          subtitle: "HTTP -> relayer -> hardhat node (automine) -> mirror -> Kafka (read_committed consumer)",
          yLabel: "messages delivered to Kafka per second",
          bars: points.map((p) => ({ label: `batch ${p.batchMaxSize}`, value: p.deliveredPerSecond, note: `p50 ${p.p50DeliverMs} / p99 ${p.p99DeliverMs} ms`, accent: p.batchMaxSize === 1 })),
          footer: [
            `\`pnpm bench\`, ${new Date().toISOString().slice(0, 10)}: ${os.cpus().length} cores, Node ${process.version}, load average ${summary.machine.loadAverageAtStart} -> ${summary.machine.loadAverageAtEnd}.`,
            `Grey: the baseline, batch size 1 (one transaction per message). ${concurrency} HTTP clients, ${authorCount} authors.`,
            `Latency: from the POST to a read_committed Kafka consumer receiving the record.`,
            `Gas per message: ${points.map((p) => `batch ${p.batchMaxSize}: ${p.gasPerMessage}`).join(", ")}.`,
          ],
        }),
      );
      progress(`chart written to ${values.svg}`);
    }

    if (values.json) {
      process.stdout.write(JSON.stringify(summary) + "\n");
    } else {
      const cols = points.map((p) => (p.batchMaxSize === 1 ? "batch 1 (baseline)" : `batch ${p.batchMaxSize}`));
      const rows: Array<[string, ...Array<string | number>]> = [
        ["", ...cols],
        ["messages delivered", ...points.map((p) => `${p.delivered}/${p.messages}`)],
        ["delivered to Kafka /s", ...points.map((p) => p.deliveredPerSecond)],
        ["confirmed on chain /s", ...points.map((p) => p.confirmedPerSecond)],
        ["POST->Kafka p50 / p99 ms", ...points.map((p) => `${p.p50DeliverMs} / ${p.p99DeliverMs}`)],
        ["  POST->202 accepted p50 ms", ...points.map((p) => p.p50AcceptMs)],
        ["  POST->confirmed p50 ms", ...points.map((p) => p.p50ConfirmMs)],
        ["  confirmed->Kafka p50 ms", ...points.map((p) => p.p50ConfirmToKafkaMs)],
        ["gas per message", ...points.map((p) => p.gasPerMessage)],
        ["chain txs (mean batch)", ...points.map((p) => `${p.transactions} (${p.meanBatchSize})`)],
        ["Kafka txs (events each)", ...points.map((p) => `${p.kafkaTransactions} (${p.meanEventsPerKafkaTransaction})`)],
        ["CPU cores node/kafka/mirror/bench", ...points.map((p) => `${p.cpuCores.chainNode}/${p.cpuCores.kafkaBroker ?? "-"}/${p.cpuCores.mirror}/${p.cpuCores.benchProcess}`)],
        ["CPU cores total", ...points.map((p) => p.cpuCores.total)],
        ["CPU ms/msg node/kafka/mirror/bench", ...points.map((p) => `${p.cpuMsPerMessage.chainNode}/${p.cpuMsPerMessage.kafkaBroker ?? "-"}/${p.cpuMsPerMessage.mirror}/${p.cpuMsPerMessage.benchProcess}`)],
        ["CPU ms/msg total", ...points.map((p) => p.cpuMsPerMessage.total)],
        [`CPU-bound estimate /s (${os.cpus().length} cores)`, ...points.map((p) => p.cpuBoundDeliveredPerSecond)],
        ["event-loop delay p99 ms", ...points.map((p) => p.eventLoopDelayP99Ms)],
        ["load average start -> end", ...points.map((p) => p.loadAverage.join(" -> "))],
      ];
      for (const [first, ...rest] of rows) process.stdout.write(`${first.padEnd(34)} ${rest.map((c) => String(c).padEnd(20)).join(" ")}\n`);
      process.stdout.write(`batch ${best.batchMaxSize} vs baseline: ${summary.speedupVsBaseline}x delivered/s; ${os.cpus().length} cores, load average ${summary.machine.loadAverageAtStart} -> ${summary.machine.loadAverageAtEnd}; ${summary.totalSeconds} s in all\n`);
      if (summary.chart) process.stdout.write(`chart: ${summary.chart}\n`);
    }
    const lost = points.some((p) => p.failed > 0 || p.delivered !== p.confirmed);
    return lost ? 1 : 0;
  } finally {
    progress("stopping the relayer, the mirror, the node and the broker...");
    await stack.stop();
  }
}

/**
 * `--chain both`: this benchmark once per chain, each in its own process (so each chain
 * gets a clean relayer, mirror and consumer), their JSON merged under `chains`.
 */
async function bothChains(argv: string[], kinds: ChainKind[]): Promise<number> {
  const rest = argv.filter((a, i) => a !== "--chain" && argv[i - 1] !== "--chain" && !a.startsWith("--chain=") && a !== "--json");
  const results: Record<string, Record<string, unknown>> = {};
  for (const kind of kinds) {
    progress(`--chain both: running the benchmark on ${kind}...`);
    const out = await new Promise<string>((resolve, reject) => {
      const child = execFile(process.execPath, [...process.execArgv, process.argv[1], ...rest, "--chain", kind, "--json"], { maxBuffer: 1 << 26 }, (error, stdout) =>
        error ? reject(new Error(`the ${kind} run failed (exit ${error.code})`)) : resolve(stdout),
      );
      child.stderr!.pipe(process.stderr);
    });
    results[kind] = JSON.parse(out.trim().split("\n").pop()!);
  }
  const chains = Object.fromEntries(Object.entries(results).map(([k, r]) => [k, (r.chains as Record<string, unknown>)[k]]));
  const summary = { benchmark: "e2e", chains, runs: results };
  if (argv.includes("--json")) process.stdout.write(JSON.stringify(summary) + "\n");
  else {
    for (const [k, c] of Object.entries(chains) as Array<[string, Record<string, any>]>) {
      process.stdout.write(`${k}: ${c.chain}: ${c.deliveredPerSecond} delivered/s (baseline ${c.baselineDeliveredPerSecond}/s), p99 POST->Kafka ${c.p99} ms; CPU µs/msg node ${c.cpuMicrosPerMessage.chainNode}, broker ${c.cpuMicrosPerMessage.kafkaBroker}, mirror ${c.cpuMicrosPerMessage.mirror}, relayer+clients ${c.cpuMicrosPerMessage.relayerAndClients}\n`);
    }
  }
  return 0;
}

runBench("bench", main, () => (signalled ? 130 : undefined));
