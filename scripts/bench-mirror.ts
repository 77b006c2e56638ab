/**
 * `pnpm bench:mirror [--json] [--chain hardhat|geth|both]`: how fast the mirror catches up on a backlog, and how
 * long a live message takes from its block to Kafka.
 *
 * Starts its own `hardhat node` and its own Kafka broker (scripts/kafka/start.sh on
 * free ports, throw-away data directory), deploys a registry, pre-signs N messages
 * (worker threads; a few authors with consecutive nonces), posts them with postBatch,
 * then runs the mirror from the deployment block and times the catch-up until its
 * committed cursor passes the last block; every event is then read back from Kafka
 * (read_committed) and counted. Live: one message per block while the mirror runs,
 * timed from the receipt to a read_committed consumer seeing it. Stops everything it
 * started. Progress goes to stderr; `--json` prints one JSON object on stdout, per chain
 * under `chains.<hardhat|geth>` (catchUpEventsPerSecond, CPU µs per event of the chain
 * node, the mirror (this process) and the broker, from /proc). The mirror follows the
 * chain's latest block here (--finality latest): geth dev's finalized block trails in
 * 32-block steps, which would time the finality lag, not the mirror.
 */
import { availableParallelism } from "node:os";
import { parseArgs } from "node:util";
import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads";
import { SigningKey, Wallet } from "ethers";
import { devPrivateKey } from "@chainmail/testkit";
import { Mirror } from "@chainmail/mirror";
import { createLogger, silentLogger } from "@chainmail/runtime";
import { readToEnd } from "@chainmail/mirror";
import { bodyFromText, channelId, digestOf, type MessageEvent, type SignedMessage, packBatch } from "@chainmail/protocol";
import { readFileSync } from "node:fs";
import path from "node:path";
import { waitFor, type RunningNode } from "@chainmail/testkit";
import { CHAIN_DESCRIPTION, chainsFlag, startBenchChain, type ChainKind } from "./bench/chains.js";
import { processCpuSeconds, processTreeCpuSeconds } from "./bench/relayer-load.js";
import { OwnBroker, registryFixture, testKafka, uniqueTopics } from "@chainmail/testkit";

const USAGE = `Usage: pnpm bench:mirror [--json] [--chain hardhat|geth|both] [--events N] [--batch N] [--live N] [--poll-ms N]

  --chain K     hardhat (automine), geth (1-second blocks, Osaka genesis, 100 M gas) or both (default hardhat)
  --events N    backlog size in messages (default 50000)
  --batch N     messages per postBatch transaction (default 100)
  --live N      live messages for the block-to-Kafka latency (default 40)
  --poll-ms N   the mirror's poll interval (default 250)
  --verbose     the mirror's own log lines on stderr
  --json        print one JSON object on stdout (progress goes to stderr)`;

const CHANNELS = 10;
const AUTHORS = 5;
const BODY_BYTES = 256;

interface SignJob {
  privateKey: string;
  chainId: string;
  address: string;
  channel: string;
  firstNonce: number;
  count: number;
  timestamp: string;
}

/** Worker: signs `count` messages of one author with consecutive nonces (protocol digestOf + raw ECDSA). */
function signWorker(job: SignJob) {
  const key = new SigningKey(job.privateKey);
  const author = new Wallet(job.privateKey).address;
  const location = { chainId: BigInt(job.chainId), address: job.address };
  const out: Array<Record<string, string | number>> = [];
  for (let i = 0; i < job.count; i++) {
    const nonce = BigInt(job.firstNonce + i);
    const message = {
      channel: job.channel,
      author,
      body: bodyFromText(`m${nonce} `.padEnd(BODY_BYTES, "x")),
      contentType: 1,
      timestamp: BigInt(job.timestamp),
      replyTo: 0n,
      nonce,
    };
    // digestOf is the EIP-712 digest signTypedData would sign; signing it directly skips
    // ethers' typed-data re-encoding (the contract verifies exactly this digest).
    const signature = key.sign(digestOf(location, message)).serialized;
    out.push({ ...message, timestamp: job.timestamp, replyTo: "0", nonce: nonce.toString(), signature });
  }
  return out;
}

const progress = (line: string) => process.stderr.write(line + "\n");

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

async function signAll(jobs: SignJob[]): Promise<SignedMessage[][]> {
  // One long-lived worker per core, each taking whole jobs: starting a worker (tsx,
  // ethers) costs about a second, so workers are few and reused.
  const parallel = Math.max(1, Math.min(availableParallelism(), jobs.length));
  const results: SignedMessage[][] = new Array(jobs.length);
  let next = 0;
  const runWorker = () =>
    new Promise<void>((resolve, reject) => {
      const worker = new Worker(new URL(import.meta.url), { workerData: "sign-worker" });
      const give = () => {
        if (next >= jobs.length) {
          void worker.terminate().then(() => resolve());
          return;
        }
        const index = next++;
        worker.once("message", (raw: Array<Record<string, string | number>>) => {
          results[index] = raw.map((m) => ({
            channel: m.channel as string,
            author: m.author as string,
            body: m.body as string,
            contentType: Number(m.contentType),
            timestamp: BigInt(m.timestamp),
            replyTo: 0n,
            nonce: BigInt(m.nonce),
            signature: m.signature as string,
          }));
          give();
        });
        worker.postMessage(jobs[index]);
      };
      worker.once("error", reject);
      worker.once("online", give);
    });
  await Promise.all(Array.from({ length: parallel }, runWorker));
  return results;
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      json: { type: "boolean" },
      events: { type: "string" },
      batch: { type: "string" },
      live: { type: "string" },
      "poll-ms": { type: "string" },
      chain: { type: "string" },
      verbose: { type: "boolean" },
      help: { type: "boolean" },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const events = Number(values.events ?? 50_000);
  const batchSize = Number(values.batch ?? 100);
  const liveCount = Number(values.live ?? 40);
  const pollIntervalMs = Number(values["poll-ms"] ?? 250);
  const kinds = chainsFlag(values.chain ?? "hardhat");
  if (typeof kinds === "string") {
    console.error(`bench:mirror: ${kinds}`);
    return 2;
  }
  for (const [name, n] of Object.entries({ events, batch: batchSize, live: liveCount, "poll-ms": pollIntervalMs })) {
    if (!Number.isInteger(n) || n < 1) {
      console.error(`bench:mirror: --${name} must be a positive whole number.`);
      return 2;
    }
  }

  let node: RunningNode | undefined;
  const broker = new OwnBroker();
  let mirror: Mirror | undefined;
  let mirrorRun: Promise<unknown> | undefined;
  const stopAll = async () => {
    mirror?.stop();
    await mirrorRun?.catch(() => {});
    await node?.stop();
    await broker.destroy();
  };
  const onSignal = () => void stopAll().then(() => process.exit(130));
  process.once("SIGINT", onSignal);
  try {
    progress("starting a private Kafka broker...");
    await broker.start();
    const brokerCpu = () => {
      try {
        return processCpuSeconds(Number(readFileSync(path.join(broker.dir, "broker.pid"), "utf8").trim()));
      } catch {
        return NaN;
      }
    };
    const chains: Record<string, unknown> = {};
    for (const kind of kinds) {
    progress(`[${kind}] starting ${CHAIN_DESCRIPTION[kind]}...`);
    node = await startBenchChain(kind);
    const channelNames = Array.from({ length: CHANNELS }, (_, i) => `bench-${i}`);
    const fx = await registryFixture(node.provider, channelNames, AUTHORS);
    const latest = await node.provider.getBlock("latest");

    // Jobs: one per (author, channel) slice, so each batch mixes authors and channels.
    const perJob = Math.ceil(events / (AUTHORS * CHANNELS));
    const jobs: SignJob[] = [];
    let remaining = events;
    const nextNonce = new Array(AUTHORS).fill(1_000_000);
    for (let c = 0; c < CHANNELS && remaining > 0; c++) {
      for (let a = 0; a < AUTHORS && remaining > 0; a++) {
        const count = Math.min(perJob, remaining);
        jobs.push({ privateKey: devPrivateKey(2 + a), chainId: fx.chainId.toString(), address: fx.address, channel: channelId(channelNames[c]), firstNonce: nextNonce[a], count, timestamp: String(latest!.timestamp) });
        nextNonce[a] += count;
        remaining -= count;
      }
    }
    progress(`signing ${events} messages on ${Math.min(availableParallelism(), jobs.length)} worker threads...`);
    let t = performance.now();
    const signedSlices = await signAll(jobs);
    const signSeconds = (performance.now() - t) / 1000;
    // Interleave slices so consecutive batches touch many channels and authors.
    const signed: SignedMessage[] = [];
    for (let i = 0; signed.length < events; i++) for (const slice of signedSlices) if (i < slice.length) signed.push(slice[i]);
    progress(`signed in ${signSeconds.toFixed(1)} s (${Math.round(events / signSeconds)}/s)`);

    progress(`posting ${Math.ceil(events / batchSize)} postBatch transactions of ${batchSize}...`);
    t = performance.now();
    const poster = fx.deployer;
    let nonce = await node.provider.getTransactionCount(poster.address, "pending");
    const pending = [];
    for (let i = 0; i < signed.length; i += batchSize) {
      const batch = signed.slice(i, i + batchSize);
      // Hardhat automines each transaction as it arrives; explicit nonces avoid a round trip per batch.
      pending.push(await fx.registry.connect(poster).postBatch(packBatch(batch), { nonce: nonce++, gasLimit: 16_000_000 }));
      if (pending.length % 50 === 0) progress(`  ${pending.length} transactions sent`);
    }
    const receipts = await Promise.all(pending.map((tx) => tx.wait()));
    const postSeconds = (performance.now() - t) / 1000;
    const lastBlock = Math.max(...receipts.map((r) => r!.blockNumber));
    const postedLogs = receipts.reduce((s, r) => s + r!.logs.length, 0);
    const [exists, , seq0] = await fx.registry.channelInfo(channelId(channelNames[0]));
    progress(`posted in ${postSeconds.toFixed(1)} s; ${postedLogs} logs up to block ${lastBlock} (channel 0 at seq ${seq0}, exists ${exists})`);
    if (postedLogs !== events) throw new Error(`Expected ${events} MessagePosted logs, the receipts hold ${postedLogs} (rejected messages?).`);

    const topics = uniqueTopics("bench");
    const kafka = testKafka(broker.brokers);
    progress("catch-up: starting the mirror from the deployment block...");
    mirror = new Mirror({ rpcUrl: node.url, registry: fx.address, brokers: broker.brokers, topics, pollIntervalMs, finality: "latest", logger: values.verbose ? createLogger({ name: "mirror", level: "debug", destination: process.stderr }) : silentLogger });
    const cpu0 = { node: processTreeCpuSeconds(node.process.pid!), self: process.cpuUsage(), broker: brokerCpu() };
    t = performance.now();
    mirrorRun = mirror.run();
    let firstStartMs = NaN;
    await waitFor("the mirror to catch up", async () => {
      if (Number.isNaN(firstStartMs) && mirror!.stats.transactions > 0) firstStartMs = performance.now() - t;
      return mirror!.stats.nextBlock > lastBlock;
    }, { timeoutMs: 30 * 60_000, intervalMs: 20 });
    const catchUpSeconds = (performance.now() - t) / 1000;
    const catchUp = { ...mirror.stats };
    const self = process.cpuUsage(cpu0.self);
    const perEvent = (seconds: number) => Math.round((seconds * 1e6) / events);
    const cpuMicrosPerEvent = {
      chainNode: perEvent(processTreeCpuSeconds(node.process.pid!) - cpu0.node),
      /** This process: the mirror, plus the benchmark's 20-ms progress check. */
      mirror: perEvent((self.user + self.system) / 1e6),
      broker: perEvent(brokerCpu() - cpu0.broker),
    };
    progress(`caught up in ${catchUpSeconds.toFixed(1)} s: ${mirror.stats.transactions} transactions, cursor at block ${mirror.stats.nextBlock}`);

    // Correctness beside speed: every event once, per channel in seq order.
    let counted = 0;
    const lastSeq = new Map<string, number>();
    let outOfOrder = 0;
    await readToEnd(kafka, topics.messages, (m) => {
      const e = JSON.parse(m.value!.toString()) as MessageEvent;
      counted++;
      const seq = Number(e.seq);
      if (seq !== (lastSeq.get(e.channel) ?? 0) + 1) outOfOrder++;
      lastSeq.set(e.channel, seq);
    });
    progress(`read back ${counted} message events from Kafka (read_committed), ${outOfOrder} out of order`);

    progress(`live: ${liveCount} single messages, one block each, mirror polling every ${pollIntervalMs} ms...`);
    const seenAt = new Map<string, number>();
    const consumer = testKafka(broker.brokers).consumer({ groupId: `bench-live-${Date.now()}`, readUncommitted: false, maxWaitTimeInMs: 50 });
    await consumer.connect();
    await consumer.subscribe({ topic: topics.messages, fromBeginning: false });
    let assigned = false;
    consumer.on(consumer.events.GROUP_JOIN, () => (assigned = true));
    await consumer.run({ eachMessage: async ({ message }) => void seenAt.set(JSON.parse(message.value!.toString()).digest, performance.now()) });
    await waitFor("the live consumer to join", async () => assigned, { timeoutMs: 60_000 });
    const author = new Wallet(devPrivateKey(2), node.provider);
    const latencies: number[] = [];
    for (let i = 0; i < liveCount; i++) {
      const block = await node.provider.getBlock("latest");
      const message = {
        channel: channelId(channelNames[i % CHANNELS]),
        author: author.address,
        body: bodyFromText(`live ${i}`),
        contentType: 1,
        timestamp: BigInt(block!.timestamp),
        replyTo: 0n,
        nonce: BigInt(5_000_000 + i),
      };
      const signature = author.signingKey.sign(digestOf(fx.location, message)).serialized;
      const digest = digestOf(fx.location, message);
      const tx = await fx.registry.connect(poster).postBatch(packBatch([{ ...message, signature }]));
      await tx.wait();
      const minedAt = performance.now();
      await waitFor(`live message ${i} in Kafka`, async () => seenAt.has(digest), { timeoutMs: 60_000, intervalMs: 2 });
      latencies.push(seenAt.get(digest)! - minedAt);
    }
    await consumer.disconnect();
    latencies.sort((a, b) => a - b);

    const result = {
      chain: CHAIN_DESCRIPTION[kind],
      events,
      channels: CHANNELS,
      authors: AUTHORS,
      bodyBytes: BODY_BYTES,
      batchSize,
      signSeconds: round(signSeconds),
      signMessagesPerSecond: Math.round(events / signSeconds),
      signWorkers: Math.min(availableParallelism(), jobs.length),
      backlogPostSeconds: round(postSeconds),
      backlogBlocks: receipts.length,
      catchUpSeconds: round(catchUpSeconds),
      catchUpEventsPerSecond: Math.round(events / catchUpSeconds),
      cpuMicrosPerEvent,
      catchUpTransactions: catchUp.transactions,
      // Where the catch-up time went (reading overlaps publishing, so these add up to more than the total).
      catchUpEthGetLogsSeconds: round(catchUp.fetchMs / 1000),
      catchUpDecodeSeconds: round(catchUp.decodeMs / 1000),
      catchUpKafkaTransactionSeconds: round(catchUp.publishMs / 1000),
      catchUpFirstCommitMs: Math.round(firstStartMs),
      eventsReadBack: counted,
      outOfOrder,
      live: {
        messages: liveCount,
        pollIntervalMs,
        blockToKafkaMsP50: round(percentile(latencies, 50)),
        blockToKafkaMsP99: round(percentile(latencies, 99)),
        blockToKafkaMsMax: round(latencies[latencies.length - 1]),
        measuredFrom: "receipt of the mined transaction to a read_committed consumer receiving the event",
      },
      maxBlockRange: 2000,
      maxEventsPerTransaction: 5000,
    };
    if (counted !== events || outOfOrder !== 0) throw new Error(`Kafka holds ${counted} events (${outOfOrder} out of order); expected ${events} in order.`);
    chains[kind] = result;
    if (!values.json) {
      console.log(`[${kind}] ${result.chain}`);
      console.log(`Mirror catch-up: ${events} events in ${result.catchUpSeconds} s = ${result.catchUpEventsPerSecond} events/s (${result.catchUpTransactions} Kafka transactions); CPU µs/event: node ${cpuMicrosPerEvent.chainNode}, mirror ${cpuMicrosPerEvent.mirror}, broker ${cpuMicrosPerEvent.broker}`);
      console.log(`Live block -> Kafka: p50 ${result.live.blockToKafkaMsP50} ms, p99 ${result.live.blockToKafkaMsP99} ms (poll ${pollIntervalMs} ms, ${liveCount} messages)`);
      console.log(`Backlog: signed ${events} in ${result.signSeconds} s (${result.signMessagesPerSecond}/s on ${result.signWorkers} workers), posted in ${result.backlogPostSeconds} s`);
    }
    mirror.stop();
    await mirrorRun;
    mirror = undefined;
    mirrorRun = undefined;
    await node.stop();
    node = undefined;
    }
    if (values.json) console.log(JSON.stringify({ benchmark: "mirror", goalCatchUpEventsPerSecond: 5000, chains }));
    return 0;
  } finally {
    process.off("SIGINT", onSignal);
    progress("stopping the mirror, the node and the broker...");
    await stopAll();
  }
}

function round(n: number): number {
  return Math.round(n * 10) / 10;
}

// Last, so every const above is initialised before main() runs.
if (!isMainThread && workerData === "sign-worker") {
  parentPort!.on("message", (job: SignJob) => parentPort!.postMessage(signWorker(job)));
} else {
  main().then(
    (code) => (process.exitCode = code),
    (error) => {
      const text = error instanceof Error ? ((error as { shortMessage?: string }).shortMessage ?? error.message) : String(error);
      console.error(`bench:mirror failed: ${text.slice(0, 2000)}`);
      process.exitCode = 1;
    },
  );
}
