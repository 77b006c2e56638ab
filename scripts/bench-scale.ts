/**
 * `pnpm bench:scale [--json] [--messages N] [--concurrency C] ...`: end-to-end delivered
 * messages per second (HTTP -> relayers -> chain -> mirror -> Kafka) with 1 and with 3
 * relayer replicas behind HAProxy (Debian's package; `balance random` over TCP
 * connections, as a Kubernetes Service's kube-proxy spreads them, health-checked on
 * /readyz), same chain and broker, in one run. Each replica is a `chainmail relayer`
 * process with its own signer keys, as a StatefulSet pod is.
 *
 * Faults, in a third run with 3 replicas (after the two clean ones): one replica picked at random is killed with SIGKILL three
 * times and started again (what the StatefulSet controller does); the mirror is killed
 * with SIGKILL twice and started again (the chart's single writer with a fast restart).
 * Clients are the SDK's submitSigned (wait for a definitive outcome, retry the same
 * signed message through the balancer). Afterwards every posted message is looked up in
 * Kafka (0 lost, 0 duplicated) and `chainmail audit` checks chain and Kafka.
 *
 * On 2 cores the total is bounded by CPU: the report gives CPU milliseconds per message
 * for each process, so the scaling shows even where the total does not.
 * Progress goes to stderr; `--json` prints one JSON object on stdout.
 */
import { spawn, execFile, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { submitSigned } from "@chainmail/client";
import { digestOf, type SignedMessage } from "@chainmail/protocol";
import { CHAINMAIL_CLI, ChainmailProcess, devPrivateKey, freePort, kafkaBrokers, MirrorProcess, OwnBroker, REPO_ROOT, startHardhatNode, testKafka, uniqueTopics, waitFor, type RunningNode } from "@chainmail/testkit";
import { guardAfterExit } from "./bench/guardian.js";
import { nodeCpuSeconds, parseBenchFlags, presign, processCpuSeconds, progress, round2, runBench, setUpBenchRegistry } from "./bench/relayer-load.js";

const USAGE = `Usage: pnpm bench:scale [--json] [--messages N] [--rounds R] [--warmup N] [--concurrency C] [--authors A] [--signers S] [--faults 0|1]

  --messages N      messages per run (every run with 1 replica and with 3 alike) [3000]
  --rounds R        rounds of a 1-replica and a 3-replica run, alternating which goes first; the median is reported [2]
  --warmup N        messages of an uncounted 1-replica run first (JIT, caches, the broker's topic) [200]
  --concurrency C   concurrent clients, each waiting for a definitive outcome [256]
  --authors A       distinct authors [100]
  --signers S       signer keys per replica [2]
  --faults 0|1      a third run with 3 replicas in which a random replica is killed with
                    SIGKILL 3 times and the mirror twice [1]
  --json            one JSON object on stdout

Needs haproxy (deploy/scripts/tools.sh installs it). Uses KAFKA_BROKERS when set;
otherwise starts a private broker.`;

/**
 * A replica: the testkit's `chainmail relayer` runner on fixed ports (HAProxy's config
 * names them before it starts), plus its CPU seconds summed over its restarts.
 */
class Relayer extends ChainmailProcess {
  private cpuDead = 0;
  constructor(readonly index: number, port: number, grpcPort: number, env: Record<string, string>) {
    super(["relayer"], { ...env, CHAINMAIL_PORT: String(port), CHAINMAIL_GRPC_PORT: String(grpcPort) });
    this.port = port;
  }
  cpu(): number {
    const pid = this.pid;
    if (pid === undefined) return this.cpuDead;
    try {
      return this.cpuDead + processCpuSeconds(pid);
    } catch {
      return this.cpuDead;
    }
  }
  override async kill9(): Promise<void> {
    const used = this.cpu();
    await super.kill9();
    this.cpuDead = used;
  }
}

function haproxyConfig(lbPort: number, relayers: Relayer[]): string {
  return `global
  maxconn 4096
defaults
  mode tcp
  timeout connect 2s
  timeout client 120s
  timeout server 120s
  retries 3
  option redispatch
frontend relayers
  bind 127.0.0.1:${lbPort}
  default_backend relayer_pods
backend relayer_pods
  balance random
  option httpchk GET /readyz
  default-server inter 500ms fall 2 rise 1
${relayers.map((r) => `  server relayer-${r.index} 127.0.0.1:${r.port} check`).join("\n")}
`;
}

const run = (file: string, args: string[]) =>
  new Promise<{ code: number; stdout: string }>((resolve) =>
    execFile(file, args, { cwd: REPO_ROOT, maxBuffer: 64 << 20, timeout: 600_000 }, (error, stdout) => resolve({ code: error ? Number(error.code ?? 1) : 0, stdout })),
  );

async function main(argv: string[]): Promise<number> {
  const parsed = parseBenchFlags(argv, USAGE, {
    messages: { default: 3000, min: 10, max: 1_000_000 },
    rounds: { default: 2, min: 1, max: 10 },
    warmup: { default: 200, min: 0, max: 100_000 },
    concurrency: { default: 256, min: 1, max: 5000 },
    authors: { default: 100, min: 1, max: 10_000 },
    // Replica i uses development accounts 10 + S·i ...: at most 3 keys each stays within the 20 funded accounts.
    signers: { default: 2, min: 1, max: 3 },
    faults: { default: 1, min: 0, max: 1 },
  });
  if ("exit" in parsed) return parsed.exit;
  const { json, num } = parsed;
  if ((await run("bash", ["-c", "command -v haproxy"])).code !== 0) {
    process.stderr.write("bench:scale needs haproxy (Debian's package): run deploy/scripts/tools.sh (apt-get install -y haproxy).\n");
    return 1;
  }

  const scratch = mkdtempSync(path.join(tmpdir(), "chainmail-scale-"));
  let node: RunningNode | undefined;
  let broker: OwnBroker | undefined;
  let mirror: MirrorProcess | undefined;
  let haproxy: ChildProcess | undefined;
  const relayers: Relayer[] = [];
  const pids = () => [node?.process.pid, mirror?.child.pid, haproxy?.pid, ...relayers.map((r) => r.child?.pid)].filter(Boolean).map((p) => `kill -9 -${p} ${p} 2>/dev/null`).join("; ");
  let killGuard = guardAfterExit(pids());
  const refreshGuard = () => {
    killGuard.cancel();
    killGuard = guardAfterExit(pids());
  };
  try {
    node = await startHardhatNode();
    let brokers = process.env.KAFKA_BROKERS ? kafkaBrokers() : undefined;
    if (!brokers) {
      progress("starting a private Kafka broker...");
      broker = new OwnBroker();
      await broker.start();
      brokers = broker.brokers;
    }
    const setup = await setUpBenchRegistry(node, "scale", num.authors);
    const topics = uniqueTopics("scale");
    const mirrorArgs = ["--rpc-url", node.url, "--registry", setup.address, "--brokers", brokers.join(","), "--messages-topic", topics.messages, "--membership-topic", topics.membership, "--cursor-topic", topics.cursor, "--transactional-id", `${topics.messages}.mirror`, "--finality", "latest", "--poll-interval-ms", "150"];
    mirror = new MirrorProcess(mirrorArgs);
    refreshGuard();
    let mirrorCpuDead = 0;
    // CPU of every mirror process of the run: the killed ones' (read just before the
    // kill) plus the current one's.
    const mirrorCpu = () => {
      if (!mirror!.running) throw new Error(`the mirror exited unexpectedly (${mirror!.child.exitCode}): ${mirror!.stderr}${JSON.stringify(mirror!.lines.slice(-5))}`);
      return mirrorCpuDead + processCpuSeconds(mirror!.child.pid!);
    };

    // Deliveries: the first time each digest reaches Kafka, and how many times.
    const seen = new Map<string, number>();
    const firstSeenAt = new Map<string, number>();
    const consumer = testKafka(brokers).consumer({ groupId: `${topics.messages}.bench`, readUncommitted: false });
    await consumer.connect();
    await waitFor("the mirror to create its topic", async () => (await testKafka(brokers).admin().listTopics()).includes(topics.messages), { timeoutMs: 60_000 });
    await consumer.subscribe({ topic: topics.messages, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) => {
        const digest = JSON.parse(message.value!.toString()).digest as string;
        seen.set(digest, (seen.get(digest) ?? 0) + 1);
        if (!firstSeenAt.has(digest)) firstSeenAt.set(digest, performance.now());
      },
    });

    const results: Record<string, unknown> = {};
    const allPosted: string[] = [];
    let nonceStart = 0;
    const faults = { relayerKills: [] as Array<{ replica: number; atMessage: number; backInMs: number }>, mirrorKills: [] as Array<{ atMessage: number; startedMs: number; firstNewDeliveryMs: number }> };
    // The scaling figures come from clean runs; the faults get a run of their own, so
    // restarts and client back-off do not blur the comparison.
    // A warm-up first (not reported), then rounds alternating which replica count goes
    // first, all with the same message count; the median of each is reported.
    const phases: Array<{ replicas: number; faults: boolean; key: string; count: number; warmup?: boolean }> = [];
    if (num.warmup > 0) phases.push({ replicas: 1, faults: false, key: "warm-up", count: num.warmup, warmup: true });
    for (let r = 0; r < num.rounds; r++) {
      const pair = [
        { replicas: 1, faults: false, key: "1", count: num.messages },
        { replicas: 3, faults: false, key: "3", count: num.messages },
      ];
      phases.push(...(r % 2 === 0 ? pair : pair.reverse()));
    }
    if (num.faults) phases.push({ replicas: 3, faults: true, key: "3 with faults", count: num.messages });
    const runs: Record<string, Array<{ deliveredPerSecond: number }>> = { "1": [], "3": [] };
    let faultRun: unknown = null;
    for (const { replicas, faults: withFaults, key, count, warmup } of phases) {
      const messages = await presign(setup.authors, setup.location, setup.channel, count, nonceStart, setup.timestamp);
      nonceStart += Math.ceil(count / setup.authors.length) + 1;
      const [, , seqBefore] = await setup.registry.channelInfo(setup.channel);
      const digests = messages.map((m: SignedMessage) => digestOf(setup.location, m));
      allPosted.push(...digests);
      relayers.length = 0;
      for (let i = 0; i < replicas; i++) {
        // Replica i has the same funded development keys in every run (10 + S·i, ...), as
        // StatefulSet pod i keeps its Secret entry; runs never overlap.
        const keys = Array.from({ length: num.signers }, (_, k) => devPrivateKey(10 + num.signers * i + k));
        relayers.push(new Relayer(i, await freePort(), await freePort(), { CHAINMAIL_RPC_URL: node.url, CHAINMAIL_REGISTRY: setup.address, CHAINMAIL_SIGNER_KEYS: keys.join(","), CHAINMAIL_RATE_AUTHOR_PER_S: "0", CHAINMAIL_RATE_CLIENT_PER_S: "0", CHAINMAIL_RECEIPT_POLL_MS: "20", CHAINMAIL_LOG_LEVEL: "warn" }));
      }
      await Promise.all(relayers.map((r) => r.start()));
      await Promise.all(relayers.map((r) => r.ready()));
      const lbPort = await freePort();
      const cfg = path.join(scratch, `haproxy-${replicas}.cfg`);
      writeFileSync(cfg, haproxyConfig(lbPort, relayers));
      haproxy = spawn("haproxy", ["-db", "-f", cfg], { stdio: ["ignore", "ignore", "pipe"], detached: true });
      refreshGuard();
      const lb = `http://127.0.0.1:${lbPort}`;
      await waitFor("haproxy", async () => (await fetch(`${lb}/readyz`)).ok, { timeoutMs: 20_000 });
      progress(`${key}: ${replicas} replica(s), posting ${messages.length} messages through HAProxy with ${num.concurrency} clients...`);

      const cpu0 = { relayers: relayers.map((r) => r.cpu()), node: nodeCpuSeconds(node), mirror: mirrorCpu(), haproxy: processCpuSeconds(haproxy.pid!), bench: process.cpuUsage() };
      const started = performance.now();
      let done = 0;
      let retries = 0;
      const outcomes = { confirmed: 0, rejected: 0, failed: 0 };
      const faultsDue = withFaults ? [0.15, 0.35, 0.55].map((f) => Math.floor(f * messages.length)) : [];
      const mirrorKillsDue = withFaults ? [0.25, 0.5].map((f) => Math.floor(f * messages.length)) : [];
      // Faults run beside the clients, each kind in its own loop: a replica killed with
      // SIGKILL is started again at once (as the StatefulSet controller would) and comes
      // back while the others carry the load; the mirror likewise.
      const restarts: Promise<void>[] = [];
      const killRelayers = async () => {
        for (const at of faultsDue) {
          while (done < at) await new Promise((r) => setTimeout(r, 20));
          const candidates = relayers.filter((r) => r.running);
          const victim = candidates[Math.floor(Math.random() * candidates.length)];
          progress(`  kill -9 relayer ${victim.index} at message ${done}`);
          const killedAt = performance.now();
          await victim.kill9();
          await victim.start();
          refreshGuard();
          restarts.push(victim.ready().then(() => void faults.relayerKills.push({ replica: victim.index, atMessage: at, backInMs: Math.round(performance.now() - killedAt) })));
        }
      };
      const killMirror = async () => {
        for (const at of mirrorKillsDue) {
          while (done < at) await new Promise((r) => setTimeout(r, 20));
          progress(`  kill -9 the mirror at message ${done}`);
          const before = firstSeenAt.size;
          const killedAt = performance.now();
          const old = mirror!;
          const used = processCpuSeconds(old.child.pid!);
          await old.kill9();
          mirrorCpuDead += used;
          mirror = new MirrorProcess(mirrorArgs);
          refreshGuard();
          // Takeover: the restarted mirror has read its cursor and fenced any older
          // writer ("mirror started"), then delivers a message Kafka did not have.
          await mirror.waitForLog(/^mirror started$/, 120_000);
          const startedMs = Math.round(performance.now() - killedAt);
          const deliveredBefore = firstSeenAt.size;
          await waitFor("the restarted mirror to deliver", async () => firstSeenAt.size > Math.max(before, deliveredBefore) || firstSeenAt.size >= allPosted.length, { timeoutMs: 120_000, intervalMs: 20 });
          faults.mirrorKills.push({ atMessage: at, startedMs, firstNewDeliveryMs: Math.round(performance.now() - killedAt) });
        }
      };
      const injectFaults = async () => {
        await Promise.all([killRelayers(), killMirror()]);
        await Promise.all(restarts);
      };
      let next = 0;
      const client = async () => {
        for (;;) {
          const i = next++;
          if (i >= messages.length) return;
          try {
            const result = await submitSigned(lb, messages[i], { wait: true, retry: { timeoutMs: 300_000, maxDelayMs: 1000 }, onRetry: () => retries++ });
            outcomes[result.status === "confirmed" ? "confirmed" : "rejected"]++;
          } catch {
            outcomes.failed++;
          }
          done++;
        }
      };
      await Promise.all([...Array.from({ length: num.concurrency }, client), injectFaults()]);
      await waitFor("every confirmed message in Kafka", async () => digests.every((d) => firstSeenAt.has(d)), { timeoutMs: 180_000, intervalMs: 50 }).catch(() => undefined);
      const lastDelivery = Math.max(...digests.map((d) => firstSeenAt.get(d) ?? 0));
      const seconds = (lastDelivery - started) / 1000;
      const delivered = digests.filter((d) => firstSeenAt.has(d)).length;
      // The count reported must be the chain's: the channel grew by exactly the confirmed messages.
      const [, , seqAfter] = await setup.registry.channelInfo(setup.channel);
      if (seqAfter - seqBefore !== BigInt(outcomes.confirmed)) {
        throw new Error(`${key}: the clients saw ${outcomes.confirmed} confirmed but the channel grew by ${seqAfter - seqBefore}`);
      }
      const bench = process.cpuUsage(cpu0.bench);
      const cpu = {
        relayers: relayers.map((r, i) => r.cpu() - cpu0.relayers[i]),
        node: nodeCpuSeconds(node) - cpu0.node,
        mirror: mirrorCpu() - cpu0.mirror,
        haproxy: processCpuSeconds(haproxy.pid!) - cpu0.haproxy,
        clients: (bench.user + bench.system) / 1e6,
      };
      const perMessageMs = (s: number) => round2((s * 1000) / delivered);
      const result = {
        messages: messages.length,
        delivered,
        ...outcomes,
        clientRetries: retries,
        seconds: round2(seconds),
        deliveredPerSecond: round2(delivered / seconds),
        cpuMsPerMessage: {
          relayersTotal: perMessageMs(cpu.relayers.reduce((a, b) => a + b, 0)),
          perRelayer: cpu.relayers.map(perMessageMs),
          node: perMessageMs(cpu.node),
          mirror: perMessageMs(cpu.mirror),
          haproxy: perMessageMs(cpu.haproxy),
          clients: perMessageMs(cpu.clients),
        },
      };
      if (withFaults) faultRun = { replicas, ...result };
      else if (!warmup) runs[key].push(result);
      progress(`  ${key}: ${delivered}/${messages.length} delivered in ${round2(seconds)} s = ${round2(delivered / seconds)}/s; relayer CPU per message ${perMessageMs(cpu.relayers.reduce((a, b) => a + b, 0))} ms (per process ${cpu.relayers.map(perMessageMs).join(", ")}), node ${perMessageMs(cpu.node)} ms, mirror ${perMessageMs(cpu.mirror)} ms`);
      haproxy.kill("SIGKILL");
      for (const r of relayers) if (r.running) await r.kill9();
    }

    const median = <T extends { deliveredPerSecond: number }>(list: T[]) => [...list].sort((a, b) => a.deliveredPerSecond - b.deliveredPerSecond)[Math.floor((list.length - 1) / 2)];
    for (const key of ["1", "3"]) results[key] = { ...median(runs[key]), rounds: runs[key].map((r) => r.deliveredPerSecond) };

    // Exactly once: every posted message in Kafka once, and the audit of chain and Kafka.
    await new Promise((r) => setTimeout(r, 1000));
    const lost = allPosted.filter((d) => !seen.has(d)).length;
    const duplicated = allPosted.filter((d) => (seen.get(d) ?? 0) > 1).length;
    await consumer.disconnect();
    progress("auditing chain and Kafka...");
    const audit = await run(process.execPath, [CHAINMAIL_CLI, "audit", "--rpc-url", node.url, "--registry", setup.address, "--brokers", brokers.join(","), "--topic", topics.messages, "--json"]);
    const report = JSON.parse(audit.stdout);
    const summary = {
      replicas: results,
      faults: { ...faults, run: faultRun },
      exactlyOnce: { posted: allPosted.length, lost, duplicated, auditExitCode: audit.code, auditDiscrepancies: report.totals?.discrepancies ?? null },
      cores: (await import("node:os")).cpus().length,
    };
    const r1 = results["1"] as { deliveredPerSecond: number };
    const r3 = results["3"] as { deliveredPerSecond: number };
    progress(`1 replica: ${r1.deliveredPerSecond}/s; 3 replicas: ${r3.deliveredPerSecond}/s (${round2(r3.deliveredPerSecond / r1.deliveredPerSecond)}x); ${faults.relayerKills.length} relayer kills, ${faults.mirrorKills.length} mirror kills; lost ${lost}, duplicated ${duplicated}; audit exit ${audit.code}`);
    if (json) process.stdout.write(JSON.stringify(summary) + "\n");
    else process.stdout.write(JSON.stringify(summary, null, 2) + "\n");
    if (num.faults && (faults.relayerKills.length < 3 || faults.mirrorKills.length < 2)) {
      progress(`the fault run ended before every fault was injected (${faults.relayerKills.length} of 3 relayer kills, ${faults.mirrorKills.length} of 2 mirror kills): use more --messages.`);
      return 1;
    }
    return lost === 0 && duplicated === 0 && audit.code === 0 ? 0 : 1;
  } finally {
    haproxy?.kill("SIGKILL");
    for (const r of relayers) if (r.child && r.running) await r.kill9().catch(() => undefined);
    await mirror?.kill9();
    await node?.stop();
    await broker?.stop();
    killGuard.cancel();
    rmSync(scratch, { recursive: true, force: true });
  }
}

runBench("bench:scale", main);
