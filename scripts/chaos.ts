/**
 * `pnpm chaos [--json] [--messages N] ...`: messages from clients that retry, through
 * several relayers, while the run breaks things; then an audit of chain and Kafka.
 *
 * Starts its own parts, the project's own way: a Kafka broker (scripts/kafka/start.sh
 * on free ports with its own KAFKA_RUN_DIR: never a shared broker), a `hardhat node`
 * mining a block every --block-ms (testkit), a registry and a channel of --authors
 * members, the mirror (`chainmail mirror`) and --relayers relayers (`chainmail
 * relayer`, each with its own signer key). Clients are the SDK (`submitSigned` from
 * @chainmail/client, waiting for a definitive outcome and retrying the same signed
 * bytes); the SDK takes one relayer URL, so message i goes to relayer i mod R.
 *
 * Faults, one after the other, each when the clients have started a given share of
 * the messages: kill -9 a relayer and restart it (three times, the third during the
 * "202 phase" below), pause the chain node (SIGSTOP/SIGCONT of its process group),
 * stop the Kafka broker and start it again, kill -9 the mirror and restart it (twice).
 *
 * The 202 phase: --accepted-messages more messages are posted once without waiting
 * (the SDK with wait: false); the client never sends them again, and their relayer is
 * killed -9 as soon as the last 202 came back. A 202 that is durable lands anyway.
 *
 * Then, once clients are done and the mirror has caught up (bounded), the audit
 * package verifies the chain and compares Kafka, and the run counts: sent, confirmed,
 * lost (a retrying client's message not on-chain), duplicated (on-chain more than
 * once), kafkaMissing, kafkaDuplicated, accepted202Lost, rssMaxMb per relayer
 * (sampled from /proc every 500 ms, restarts included). Progress on stderr; --json
 * prints one JSON object on stdout. Exit 0 when every loss and duplicate count is 0
 * and the audit is clean, 1 otherwise.
 */
import { randomBytes } from "node:crypto";
import { audit, ChainLogSource, KafkaTopicReader } from "@chainmail/audit";
import { NoOutcomeError, submitSigned, type PostResult } from "@chainmail/client";
import { readTopic } from "@chainmail/mirror";
import { digestOf, type SignedMessage } from "@chainmail/protocol";
import {
  ChainmailProcess,
  devPrivateKey,
  MirrorProcess,
  OwnBroker,
  signMessageSync,
  startHardhatNode,
  testKafka,
  uniqueTopics,
  waitFor,
  type RunningNode,
} from "@chainmail/testkit";
import { Wallet } from "ethers";
import { guardAfterExit, type Guard } from "./bench/guardian.js";
import { parseBenchFlags, progress, runBench, setUpBenchRegistry, type BenchRegistry } from "./bench/relayer-load.js";

const USAGE = `Usage: pnpm chaos [--json] [--messages N] [--relayers R] ...

  --messages N            messages from retrying clients [20000]
  --accepted-messages N   messages of the 202 phase (posted once, never resent) [1000]
  --relayers R            relayer processes, each with its own signer key [2]
  --authors A             channel members signing the messages [50]
  --concurrency C         concurrent retrying clients [256]
  --rate N                messages the clients start per second at most, 0 = as fast as
                          they can [0]; a short run paced so that its faults hit it under load
  --block-ms N            the chain's block interval [1000]
  --relayer-down-ms N     how long a killed relayer stays down [1000]
  --mirror-down-ms N      how long a killed mirror stays down [1000]
  --chain-pause-s N       how long the chain node is paused (SIGSTOP) [20]
  --kafka-stop-s N        how long the Kafka broker is stopped [30]
  --client-timeout-s N    a client gives up on a message after this long [900]
  --settle-timeout-s N    longest wait for the mirror to catch up at the end [300]
  --json                  print one JSON object on stdout (progress goes to stderr)

A short check: pnpm chaos --messages 2000 --accepted-messages 300 --rate 25 --chain-pause-s 5 --kafka-stop-s 8`;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A process that can be restarted: its kill-on-exit guard follows its PID. */
class Guards {
  private readonly byName = new Map<string, Guard>();

  set(name: string, command: string): void {
    this.byName.get(name)?.cancel();
    this.byName.set(name, guardAfterExit(command));
  }

  cancelAll(): void {
    for (const g of this.byName.values()) g.cancel();
    this.byName.clear();
  }
}

interface FaultRecord {
  fault: string;
  atSecond: number;
  /** Messages the clients had started when it began. */
  atSent: number;
  downMs: number;
}

/** Everything the run started, stopped in reverse order exactly once. */
class Stack {
  broker?: OwnBroker;
  node?: RunningNode;
  nodePaused = false;
  mirror?: MirrorProcess;
  relayers: ChainmailProcess[] = [];
  readonly guards = new Guards();
  private stopping?: Promise<void>;

  stop(): Promise<void> {
    this.stopping ??= (async () => {
      const step = async (what: string, f: () => Promise<unknown>) => {
        try {
          await f();
        } catch (error) {
          progress(`  stopping ${what}: ${(error as Error).message}`);
        }
      };
      if (this.node && this.nodePaused) await step("(resuming) the chain node", async () => process.kill(-this.node!.process.pid!, "SIGCONT"));
      for (const r of this.relayers) await step("a relayer", () => r.kill9());
      if (this.mirror) await step("the mirror", () => this.mirror!.kill9());
      if (this.node) await step("the hardhat node", () => this.node!.stop());
      if (this.broker) await step("the Kafka broker", () => this.broker!.destroy());
      this.guards.cancelAll();
    })();
    return this.stopping;
  }
}

let signalled = false;

async function main(argv: string[]): Promise<number> {
  const flags = parseBenchFlags(argv, USAGE, {
    messages: { default: 20_000, min: 1, max: 1_000_000 },
    "accepted-messages": { default: 1000, min: 0, max: 100_000 },
    relayers: { default: 2, min: 2, max: 8 },
    authors: { default: 50, min: 1, max: 5000 },
    concurrency: { default: 256, min: 1, max: 5000 },
    rate: { default: 0, min: 0, max: 1_000_000 },
    "block-ms": { default: 1000, min: 100, max: 60_000 },
    "relayer-down-ms": { default: 1000, min: 0, max: 600_000 },
    "mirror-down-ms": { default: 1000, min: 0, max: 600_000 },
    "chain-pause-s": { default: 20, min: 0, max: 3600 },
    "kafka-stop-s": { default: 30, min: 0, max: 3600 },
    "client-timeout-s": { default: 900, min: 10, max: 86_400 },
    "settle-timeout-s": { default: 300, min: 10, max: 86_400 },
  });
  if ("exit" in flags) return flags.exit;
  const n = flags.num;
  const total = n.messages;

  // The run's children talk to the run's own broker only; a KAFKA_BROKERS inherited
  // from the shell (a shared broker) must not reach the relayers.
  delete process.env.KAFKA_BROKERS;

  const stack = new Stack();
  const onSignal = () => {
    if (signalled) return;
    signalled = true;
    progress("interrupted: stopping everything the run started...");
    void stack.stop().finally(() => process.exit(130));
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  const started = Date.now();
  const elapsed = () => Math.round((Date.now() - started) / 100) / 10;

  try {
    // --- the parts ---
    stack.broker = new OwnBroker();
    stack.guards.set("broker", `KAFKA_RUN_DIR=${stack.broker.dir} bash ${process.cwd()}/scripts/kafka/stop.sh >/dev/null 2>&1; rm -rf ${stack.broker.dir}`);
    progress("starting a Kafka broker of the run's own (scripts/kafka/start.sh, free ports)...");
    await stack.broker.start();
    const brokers = stack.broker.brokers;
    progress(`  broker on ${brokers.join(",")}, run directory ${stack.broker.dir}`);

    progress(`starting a hardhat node (a block every ${n["block-ms"]} ms)...`);
    const node = (stack.node = await startHardhatNode({ blockTimeMs: n["block-ms"] }));
    stack.guards.set("node", `kill -CONT -${node.process.pid} 2>/dev/null; kill -KILL -${node.process.pid} 2>/dev/null`);
    const setup: BenchRegistry = await setUpBenchRegistry(node, "chaos", n.authors);
    progress(`  registry ${setup.address}, channel "chaos" with ${n.authors} members`);

    const topics = uniqueTopics("chaos");
    const transactionalId = `chaos-${randomBytes(4).toString("hex")}`;
    const mirrorArgs = [
      "--rpc-url", node.url,
      "--registry", setup.address,
      "--brokers", brokers.join(","),
      "--messages-topic", topics.messages,
      "--membership-topic", topics.membership,
      "--cursor-topic", topics.cursor,
      "--transactional-id", transactionalId,
      "--finality", "latest",
      "--confirmations", "0",
      "--poll-interval-ms", "200",
      "--log-level", "info",
    ];
    const startMirror = async () => {
      const mirror = (stack.mirror = new MirrorProcess(mirrorArgs));
      stack.guards.set("mirror", `kill -KILL -${mirror.child.pid} 2>/dev/null`);
      await mirror.waitForLog(/mirror started/, 120_000);
    };
    progress("starting the mirror...");
    await startMirror();

    const relayers = (stack.relayers = Array.from(
      { length: n.relayers },
      (_, i) =>
        ChainmailProcess.relayer({
          CHAINMAIL_RPC_URL: node.url,
          CHAINMAIL_REGISTRY: setup.address,
          CHAINMAIL_SIGNER_KEYS: devPrivateKey(10 + i),
          // Faults, not pacing, are under test: no rate limits.
          CHAINMAIL_RATE_AUTHOR_PER_S: "0",
          CHAINMAIL_RATE_CLIENT_PER_S: "0",
          CHAINMAIL_RECEIPT_POLL_MS: "100",
        }),
    ));
    const startRelayer = async (i: number) => {
      await relayers[i].start();
      stack.guards.set(`relayer-${i + 1}`, `kill -KILL -${relayers[i].pid} 2>/dev/null`);
      await relayers[i].ready(180_000);
    };
    progress(`starting ${n.relayers} relayers...`);
    for (let i = 0; i < relayers.length; i++) await startRelayer(i);
    progress(`  ${relayers.map((r) => r.url).join(", ")}`);

    // --- resident memory of each relayer, restarts included ---
    const rssMax: Record<string, number> = {};
    const sampler = setInterval(() => {
      relayers.forEach((r, i) => {
        const mb = r.rssMb();
        if (mb !== undefined) rssMax[`relayer-${i + 1}`] = Math.max(rssMax[`relayer-${i + 1}`] ?? 0, mb);
      });
    }, 500);

    // --- the messages: consecutive nonces per author, signed up front ---
    progress(`signing ${total + n["accepted-messages"]} messages...`);
    const signAll = (count: number, nonceBase: number): SignedMessage[] => {
      const out: SignedMessage[] = [];
      const timestamp = BigInt(Math.floor(Date.now() / 1000));
      for (let i = 0; i < count; i++) {
        const author = setup.authors[i % setup.authors.length];
        const nonce = BigInt(nonceBase + Math.floor(i / setup.authors.length));
        out.push(signMessageSync(author, setup.location, { channel: setup.channel, body: "0x" + Buffer.from(`chaos ${nonceBase} ${i} `.padEnd(64, ".")).toString("hex"), contentType: 1, timestamp, replyTo: 0n, nonce }));
      }
      return out;
    };
    const mainMessages = signAll(total, 1);
    const acceptedPhase = signAll(n["accepted-messages"], 1 + Math.ceil(total / setup.authors.length) + 1);
    const digestsOf = (ms: SignedMessage[]) => ms.map((m) => digestOf(setup.location, m).toLowerCase());

    // --- retrying clients ---
    let next = 0;
    let settled = 0;
    let retries = 0;
    const outcomes: Array<PostResult | { status: "noOutcome"; problem: string }> = new Array(total);
    const loadStarted = Date.now();
    const clients = Promise.all(
      Array.from({ length: Math.min(n.concurrency, total) }, async () => {
        for (;;) {
          const i = next++;
          if (i >= total) return;
          // Paced: message i starts no earlier than i / rate seconds after the first.
          if (n.rate > 0) await sleep(Math.max(0, loadStarted + (i * 1000) / n.rate - Date.now()));
          try {
            // Every relayer, starting from a different one per message: the SDK fails over.
            const first = i % relayers.length;
            const urls = [...relayers.slice(first), ...relayers.slice(0, first)].map((r) => r.url);
            outcomes[i] = await submitSigned(urls, mainMessages[i], {
              wait: true,
              retry: { timeoutMs: n["client-timeout-s"] * 1000, maxDelayMs: 2000, requestTimeoutMs: 60_000 },
              onRetry: () => retries++,
            });
          } catch (error) {
            outcomes[i] = { status: "noOutcome", problem: error instanceof NoOutcomeError ? error.lastProblem : (error as Error).message };
          }
          settled++;
        }
      }),
    );
    let clientsDone = false;
    void clients.then(() => (clientsDone = true));
    const ticker = setInterval(() => {
      const rss = Object.entries(rssMax).map(([k, v]) => `${k} ${Math.round(v)} MB`).join(", ");
      progress(`  [${elapsed()} s] clients: ${Math.min(next, total)}/${total} started, ${settled} settled, ${retries} retries; max RSS ${rss}`);
    }, 5000);

    // --- the faults, one after the other, each at a share of the messages started ---
    const faults: FaultRecord[] = [];
    const at = async (share: number) => {
      await waitFor(`${Math.round(share * 100)}% of the messages started`, async () => clientsDone || next >= share * total, { timeoutMs: n["client-timeout-s"] * 1000, intervalMs: 100 });
    };
    const fault = async (name: string, run: () => Promise<number>) => {
      const record: FaultRecord = { fault: name, atSecond: elapsed(), atSent: Math.min(next, total), downMs: 0 };
      progress(`  [${record.atSecond} s] FAULT ${name} (after ${record.atSent} messages started)`);
      record.downMs = await run();
      faults.push(record);
      progress(`  [${elapsed()} s] recovered from: ${name} (down ${Math.round(record.downMs)} ms)`);
    };
    const killRelayer = (i: number) => async () => {
      const t = Date.now();
      await relayers[i].kill9();
      await sleep(n["relayer-down-ms"]);
      await startRelayer(i);
      return Date.now() - t;
    };
    const killMirror = async () => {
      const t = Date.now();
      await stack.mirror!.kill9();
      await sleep(n["mirror-down-ms"]);
      await startMirror();
      return Date.now() - t;
    };
    let accepted202: string[] = [];
    let phase202NotAccepted = 0;

    await at(0.08);
    await fault("kill -9 relayer-1, restart", killRelayer(0));
    await at(0.16);
    await fault("kill -9 the mirror, restart", killMirror);
    await at(0.25);
    await fault(`pause the chain node ${n["chain-pause-s"]} s (SIGSTOP/SIGCONT)`, async () => {
      const t = Date.now();
      process.kill(-node.process.pid!, "SIGSTOP");
      stack.nodePaused = true;
      await sleep(n["chain-pause-s"] * 1000);
      process.kill(-node.process.pid!, "SIGCONT");
      stack.nodePaused = false;
      return Date.now() - t;
    });
    await at(0.4);
    await fault(`stop the Kafka broker ${n["kafka-stop-s"]} s`, async () => {
      const t = Date.now();
      await stack.broker!.stop();
      await sleep(n["kafka-stop-s"] * 1000);
      await stack.broker!.start();
      return Date.now() - t;
    });
    await at(0.55);
    await fault("kill -9 relayer-2, restart", killRelayer(1));
    await at(0.65);
    await fault("kill -9 the mirror, restart", killMirror);
    await at(0.75);
    if (acceptedPhase.length > 0) {
      // The 202 phase: post once without waiting; after the 202 the client keeps nothing
      // to resend. The relayer is killed when half of them have been answered 202, in
      // the middle of the burst: what it accepted last is still queued in it.
      const target = 0;
      progress(`  [${elapsed()} s] 202 phase: ${acceptedPhase.length} messages posted once to relayer-${target + 1}, never resent after a 202`);
      let answered202 = 0;
      let half!: () => void;
      const halfAnswered = new Promise<void>((resolve) => (half = resolve));
      const answers = Promise.all(
        acceptedPhase.map((m) =>
          submitSigned(relayers[target].url, m, { wait: false, retry: { timeoutMs: 120_000, maxDelayMs: 1000 } }).then(
            (r) => {
              if (r.status === "pending" && ++answered202 >= Math.ceil(acceptedPhase.length / 2)) half();
              return r;
            },
            () => undefined,
          ),
        ),
      );
      await Promise.race([halfAnswered, answers]);
      await fault(`kill -9 relayer-${target + 1} after ${answered202} of ${acceptedPhase.length} answers 202, restart`, killRelayer(target));
      // Requests cut by the kill were sent again by their client (no 202 yet) to the restarted relayer.
      const results = await answers;
      accepted202 = results.filter((r): r is PostResult => r?.status === "pending").map((r) => r.digest.toLowerCase());
      phase202NotAccepted = acceptedPhase.length - accepted202.length;
      progress(`  [${elapsed()} s] 202 phase: ${accepted202.length} answered 202 in all, ${phase202NotAccepted} not accepted`);
    } else {
      await fault("kill -9 relayer-1, restart", killRelayer(0));
    }

    progress(`  [${elapsed()} s] every fault done; waiting for the clients...`);
    await clients;
    clearInterval(ticker);
    clearInterval(sampler);
    progress(`  [${elapsed()} s] clients done`);

    // --- a 202 promises that the message lands later: wait for that (bounded) before the chain is read ---
    if (accepted202.length > 0) {
      const expected = outcomes.filter((o) => o?.status === "confirmed").length + accepted202.length;
      progress(`waiting for the ${accepted202.length} messages answered 202 to land: channel seq ${expected} (at most ${n["settle-timeout-s"]} s)...`);
      try {
        await waitFor("every 202'd message on chain", async () => Number((await setup.registry.channelInfo(setup.channel))[2]) >= expected, {
          timeoutMs: n["settle-timeout-s"] * 1000,
          intervalMs: 1000,
        });
      } catch (error) {
        progress(`  ${(error as Error).message}; auditing what is there`);
      }
    }

    // --- the mirror catches up (bounded), then the audit ---
    const [, , chainSeq] = await setup.registry.channelInfo(setup.channel);
    const kafka = testKafka(brokers);
    progress(`waiting for the mirror to publish all ${chainSeq} messages to Kafka (at most ${n["settle-timeout-s"]} s)...`);
    try {
      await waitFor(
        "the mirror to catch up",
        async () => {
          const records = await readTopic(kafka, topics.messages);
          return new Set(records.map((r) => r.value?.seq)).size >= Number(chainSeq);
        },
        { timeoutMs: n["settle-timeout-s"] * 1000, intervalMs: 5000 },
      );
    } catch (error) {
      progress(`  ${(error as Error).message}; auditing what is there`);
    }

    progress("auditing chain and Kafka (the audit package)...");
    const toBlock = await node.provider.getBlockNumber();
    const source = await ChainLogSource.fromUrl(node.url, setup.address, { toBlock });
    const result = await audit(source, { workers: 0, kafka: new KafkaTopicReader(brokers, topics.messages), kafkaConfirmations: 0 });
    await source.close?.();
    const records = await readTopic(kafka, topics.messages);

    // --- counts ---
    const onChain = new Map<string, number>();
    for (const m of result.messages) if (m.channel.toLowerCase() === setup.channel.toLowerCase()) onChain.set(m.digest.toLowerCase(), (onChain.get(m.digest.toLowerCase()) ?? 0) + 1);
    const mainDigests = digestsOf(mainMessages);
    const acceptedDigests = digestsOf(acceptedPhase);
    const sentDigests = new Set([...mainDigests, ...acceptedDigests]);
    const confirmed = [...sentDigests].filter((d) => onChain.has(d)).length;
    const lost = mainDigests.filter((d) => !onChain.has(d)).length;
    const duplicated = [...onChain.values()].reduce((s, c) => s + (c - 1), 0);
    const unexpectedOnChain = [...onChain.keys()].filter((d) => !sentDigests.has(d)).length;
    const kafkaSeqs = new Map<string, number>();
    for (const r of records) kafkaSeqs.set(`${r.value?.channel}:${r.value?.seq}`, (kafkaSeqs.get(`${r.value?.channel}:${r.value?.seq}`) ?? 0) + 1);
    const kafkaMissing = result.messages.filter((m) => !kafkaSeqs.has(`${m.channel}:${m.seq}`)).length;
    const kafkaDuplicated = [...kafkaSeqs.values()].reduce((s, c) => s + (c - 1), 0);
    const accepted202Lost = accepted202.filter((d) => !onChain.has(d)).length;
    const clientOutcomes: Record<string, number> = {};
    for (const o of outcomes) {
      const key = o.status === "rejected" ? `rejected ${(o as { code?: string }).code}` : o.status;
      clientOutcomes[key] = (clientOutcomes[key] ?? 0) + 1;
    }
    const summary = {
      sent: sentDigests.size,
      confirmed,
      lost,
      duplicated,
      kafkaMissing,
      kafkaDuplicated,
      accepted202: accepted202.length,
      accepted202Lost,
      rssMaxMb: Object.fromEntries(Object.entries(rssMax).map(([k, v]) => [k, Math.round(v)])),
      phase202NotAccepted,
      unexpectedOnChain,
      clientOutcomes,
      clientRetries: retries,
      audit: { ok: result.report.ok, messages: result.report.totals.messages, discrepancies: result.report.totals.discrepancies, byKind: result.report.totals.byKind },
      faults,
      seconds: elapsed(),
      settings: { messages: total, acceptedMessages: acceptedPhase.length, relayers: n.relayers, authors: n.authors, concurrency: n.concurrency, rate: n.rate, blockMs: n["block-ms"], chainPauseS: n["chain-pause-s"], kafkaStopS: n["kafka-stop-s"], relayerDownMs: n["relayer-down-ms"], mirrorDownMs: n["mirror-down-ms"] },
      note: "Message i starts at relayer i mod R and the SDK fails over to the others.",
    };
    if (flags.json) process.stdout.write(JSON.stringify(summary, null, 2) + "\n");
    else {
      const lines = [
        `chaos: ${summary.sent} messages sent through ${n.relayers} relayers in ${summary.seconds} s, faults: ${faults.map((f) => f.fault).join("; ")}`,
        `  confirmed ${confirmed}, lost ${lost}, duplicated ${duplicated}, unexpected on-chain ${unexpectedOnChain}`,
        `  Kafka: missing ${kafkaMissing}, duplicated ${kafkaDuplicated}`,
        `  202 phase: ${accepted202.length} accepted (202) and never resent, ${accepted202Lost} of them lost; ${phase202NotAccepted} not accepted`,
        `  clients: ${JSON.stringify(clientOutcomes)}, ${retries} retries`,
        `  audit: ${result.report.ok ? "clean" : `${result.report.totals.discrepancies} discrepancies ${JSON.stringify(result.report.totals.byKind)}`} over ${result.report.totals.messages} messages`,
        `  max RSS: ${Object.entries(summary.rssMaxMb).map(([k, v]) => `${k} ${v} MB`).join(", ")}`,
      ];
      process.stdout.write(lines.join("\n") + "\n");
    }
    const clean = lost === 0 && duplicated === 0 && kafkaMissing === 0 && kafkaDuplicated === 0 && accepted202Lost === 0 && unexpectedOnChain === 0 && result.report.ok;
    return clean ? 0 : 1;
  } finally {
    await stack.stop();
  }
}

// kafkajs 2.2.4 on Node >= 23 warns about a negative timer on every connect (tulios/kafkajs#1751; harmless).
process.removeAllListeners("warning");
process.on("warning", (warning) => {
  if (warning.name !== "TimeoutNegativeWarning") process.stderr.write(`${warning.name}: ${warning.message}\n`);
});

runBench("chaos", main, () => (signalled ? 130 : undefined));
