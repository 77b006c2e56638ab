/**
 * Kafka for tests: the shared broker from KAFKA_BROKERS (default 127.0.0.1:9092), unique
 * topic names per test (a topic is read to its end by the mirror's readTopic), a private
 * throw-away broker (for tests that stop and start it), and the mirror CLI as a child
 * process (for tests that kill it).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { expect } from "chai";
import { Kafka, logLevel } from "kafkajs";
import { Wallet, type JsonRpcProvider } from "ethers";
import { createChannelWithMembers, deployRegistry } from "./deploy.js";
import { devPrivateKey } from "./dev-keys.js";
import { bodyFromText, channelId, signMessage, toCallArgument, packBatch } from "@chainmail/protocol";
import { CHAINMAIL_CLI, freePort, REPO_ROOT, waitFor } from "./hardhat-node.js";

export function kafkaBrokers(): string[] {
  return (process.env.KAFKA_BROKERS ?? "127.0.0.1:9092").split(",").map((b) => b.trim()).filter(Boolean);
}

export function testKafka(brokers = kafkaBrokers()): Kafka {
  return new Kafka({ clientId: "chainmail-test", brokers, logLevel: logLevel.NOTHING, retry: { retries: 2 } });
}

/** A topic name no other test (or earlier run) uses. */
export function uniqueTopic(prefix: string): string {
  return `test.${prefix}.${Date.now().toString(36)}.${randomBytes(3).toString("hex")}`;
}

/** Messages, membership and cursor topics for one test. */
export function uniqueTopics(prefix: string) {
  const base = uniqueTopic(prefix);
  return { messages: `${base}.messages`, membership: `${base}.membership`, cursor: `${base}.cursor` };
}

/**
 * Creates a topic and waits, with a bound, until every partition has a leader. kafkajs's
 * own `waitForLeaders` gives up on the broker's transient "This server does not host this
 * topic-partition" right after creation, which made tests fail under load.
 */
export async function createTopic(kafka: Kafka, topic: string, numPartitions = 1): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    await admin.createTopics({ topics: [{ topic, numPartitions }], waitForLeaders: false });
    await waitFor(`topic ${topic} to have a leader for each of its ${numPartitions} partitions`, async () => {
      const { topics } = await admin.fetchTopicMetadata({ topics: [topic] });
      const partitions = topics[0]?.partitions ?? [];
      return partitions.length === numPartitions && partitions.every((p) => p.leader >= 0);
    });
  } finally {
    await admin.disconnect();
  }
}

/** Publishes message events to a new one-partition topic, keyed by channel as the mirror keys them (no transaction: tests forge records this way). */
export async function produceEvents(kafka: Kafka, topic: string, events: ReadonlyArray<{ channel: string }>): Promise<void> {
  await createTopic(kafka, topic);
  const producer = kafka.producer();
  await producer.connect();
  try {
    await producer.send({ topic, messages: events.map((e) => ({ key: e.channel, value: JSON.stringify(e) })) });
  } finally {
    await producer.disconnect();
  }
}

/** Whether a broker answers at `brokers` (for a clear skip message when none runs). */
export async function brokerReachable(brokers = kafkaBrokers()): Promise<boolean> {
  const admin = testKafka(brokers).admin();
  try {
    await admin.connect();
    await admin.listTopics();
    return true;
  } catch {
    return false;
  } finally {
    await admin.disconnect().catch(() => {});
  }
}

/**
 * A private broker on free ports with its own run/data directories, started and
 * stopped with scripts/kafka/{start,stop}.sh (so it can be stopped mid-test).
 */
export class OwnBroker {
  readonly dir = mkdtempSync(path.join(tmpdir(), "chainmail-kafka-"));
  port = 0;
  controllerPort = 0;

  get brokers(): string[] {
    return [`127.0.0.1:${this.port}`];
  }

  private env() {
    return {
      ...process.env,
      KAFKA_PORT: String(this.port),
      KAFKA_CONTROLLER_PORT: String(this.controllerPort),
      KAFKA_RUN_DIR: this.dir,
      KAFKA_DATA_DIR: path.join(this.dir, "data"),
      KAFKA_HEAP_OPTS: "-Xms128m -Xmx512m",
    };
  }

  async start(): Promise<void> {
    if (!this.port) {
      this.port = await freePort();
      this.controllerPort = await freePort();
    }
    await runScript("start.sh", this.env());
  }

  async stop(): Promise<void> {
    if (!this.port) return;
    await runScript("stop.sh", this.env());
  }

  async destroy(): Promise<void> {
    await this.stop().catch(() => {});
    rmSync(this.dir, { recursive: true, force: true });
  }
}

function runScript(script: string, env: NodeJS.ProcessEnv): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn("bash", [path.join(REPO_ROOT, "scripts/kafka", script)], { env, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (d) => (output += d));
    child.stderr.on("data", (d) => (output += d));
    child.on("error", reject);
    child.on("exit", (code) => (code === 0 ? resolve() : reject(new Error(`scripts/kafka/${script} exited ${code}: ${output}`))));
  });
}

/** `chainmail mirror ...` as a child process, with its JSON log lines collected. */
export class MirrorProcess {
  readonly child: ChildProcess;
  readonly lines: any[] = [];
  stderr = "";
  readonly exited: Promise<number | null>;

  constructor(args: string[], env: Record<string, string> = {}) {
    const bin = path.join(REPO_ROOT, "node_modules/.bin");
    // The compiled command in one process, so SIGTERM reaches the mirror itself.
    this.child = spawn(process.execPath, [CHAINMAIL_CLI, "mirror", ...args], {
      cwd: REPO_ROOT,
      env: { ...process.env, PATH: `${bin}:${process.env.PATH}`, ...env },
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    });
    let buffer = "";
    this.child.stdout!.on("data", (d) => {
      buffer += d;
      let newline;
      while ((newline = buffer.indexOf("\n")) >= 0) {
        const line = buffer.slice(0, newline);
        buffer = buffer.slice(newline + 1);
        try {
          this.lines.push(JSON.parse(line));
        } catch {
          this.lines.push({ msg: line });
        }
      }
    });
    this.child.stderr!.on("data", (d) => (this.stderr = (this.stderr + d).slice(-20_000)));
    this.exited = new Promise((resolve) => this.child.once("exit", (code) => resolve(code)));
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  logged(pattern: RegExp): any | undefined {
    return this.lines.find((l) => pattern.test(l.msg));
  }

  async waitForLog(pattern: RegExp, timeoutMs = 60_000): Promise<any> {
    return waitFor(`mirror log line ${pattern}`, async () => {
      const line = this.logged(pattern);
      if (!line && !this.running) throw new Error(`mirror exited (${this.child.exitCode}) before logging ${pattern}: ${this.stderr}`);
      return line;
    }, { timeoutMs });
  }

  /** kill -9 the whole process group (tsx and the node it runs). */
  async kill9(): Promise<void> {
    if (!this.running) return;
    try {
      process.kill(-this.child.pid!, "SIGKILL");
    } catch {
      this.child.kill("SIGKILL");
    }
    await this.exited;
  }

  /** SIGTERM (a clean stop), SIGKILL if it takes longer than `timeoutMs`. */
  async stop(timeoutMs = 15_000): Promise<number | null> {
    if (!this.running) return this.child.exitCode;
    this.child.kill("SIGTERM");
    const timer = setTimeout(() => void this.kill9(), timeoutMs);
    const code = await this.exited;
    clearTimeout(timer);
    return code;
  }
}

/** A registry with one channel and members, and a way to post signed messages in batches. */
export async function registryFixture(provider: JsonRpcProvider, channelNames: string[] = ["general"], memberCount = 2) {
  const deployer = new Wallet(devPrivateKey(0), provider);
  const admin = new Wallet(devPrivateKey(1), provider);
  const members = Array.from({ length: memberCount }, (_, i) => new Wallet(devPrivateKey(2 + i), provider));
  const deployed = await deployRegistry(deployer);
  const channels: Record<string, string> = {};
  for (const name of channelNames) {
    channels[name] = await createChannelWithMembers(deployed.registry, name, admin, members.map((m) => m.address));
  }
  const location = { chainId: deployed.chainId, address: deployed.address };
  let nonce = 1n;
  /** Signs and posts `texts` to `channel` in one postBatch; returns the signed messages and the receipt. */
  const post = async (channel: string, texts: string[], author = members[0]) => {
    const block = await provider.getBlock("latest");
    const signed = [];
    for (const text of texts) {
      signed.push(
        await signMessage(author, location, {
          channel: channelId(channel),
          author: author.address,
          body: bodyFromText(text),
          contentType: 1,
          timestamp: BigInt(block!.timestamp),
          replyTo: 0n,
          nonce: nonce++,
        }),
      );
    }
    const receipt = await (await deployed.registry.connect(deployer).postBatch(packBatch(signed))).wait();
    return { signed, receipt: receipt! };
  };
  return { ...deployed, deployer, admin, members, channels, location, post };
}

/** Every channel's seqs appear exactly once, in order, and nothing else is there. */
export function expectExactlyOnce(records: Array<{ value: { channelName: string; seq: string } }>, posted: Record<string, number>) {
  const seqsBy: Record<string, number[]> = {};
  for (const r of records) (seqsBy[r.value.channelName] ??= []).push(Number(r.value.seq));
  for (const [channel, count] of Object.entries(posted)) {
    expect(seqsBy[channel], `seqs of ${channel}`).to.deep.equal(Array.from({ length: count }, (_, i) => i + 1));
  }
  expect(Object.keys(seqsBy).sort()).to.deep.equal(Object.keys(posted).sort());
}
