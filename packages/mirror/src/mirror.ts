/**
 * The mirror: finalized registry logs -> Kafka, exactly once.
 *
 * Each step takes a bounded block range [next, to] below the safe tip, turns its logs
 * into events and writes them AND the cursor {nextBlock: end + 1} in one Kafka
 * transaction. A range is split only at block boundaries (the cursor counts blocks),
 * so a block is never half-published. After any Kafka failure the mirror opens a new
 * producer session (which aborts whatever was left open) and re-reads the committed
 * cursor: that cursor, not memory, says where to continue. A second instance with the
 * same transactional id fences this one, which then stops without publishing.
 */
import { Kafka, logLevel, type Message } from "kafkajs";
import type { JsonRpcProvider } from "ethers";
import { createProvider, RpcClient } from "@chainmail/chain";
import type { Server } from "node:http";
import { MessageRegistry__factory } from "@chainmail/protocol";
import { ChainSource, type BlockRef, type Finality, type MirroredEvent } from "./chain-source.js";
import {
  CURSOR_SCHEMA,
  DEFAULT_CURSOR_TOPIC,
  DEFAULT_MEMBERSHIP_TOPIC,
  DEFAULT_MESSAGES_TOPIC,
  MEMBERSHIP_EVENT_SCHEMA,
  MESSAGE_EVENT_SCHEMA,
  RETRACTION_SCHEMA,
  type MirrorCursor,
  type RetractionEvent,
} from "@chainmail/protocol";
import { PublishedWindow, retractionsAbove } from "./reorg.js";
import { ensureTopics, FencedError, readCursor, TransactionalSink, type TopicNames } from "./kafka-sink.js";
import { createLogger, type Logger } from "@chainmail/runtime";
import { kafkajsLogCreator } from "./log.js";
import { MirrorMetrics, serveMetrics } from "./metrics.js";
import { ChainMailError } from "@chainmail/protocol";

export interface MirrorOptions {
  rpcUrl: string;
  registry: string;
  brokers: string[];
  topics?: Partial<TopicNames>;
  /** Default `chainmail-mirror-<chainId>-<registry>`: one writer per registry. */
  transactionalId?: string;
  /** Which block counts as safe: auto = finalized, else safe, else latest - confirmations. */
  finality?: Finality;
  /** Depth below the head when the node has no finalized/safe block (or finality = latest). */
  confirmations?: number;
  maxBlockRange?: number;
  /** Events per Kafka transaction (whole blocks only, so a bigger block still goes in one). */
  maxEventsPerTransaction?: number;
  pollIntervalMs?: number;
  /**
   * Blocks below the cursor whose hashes (and which channels they held) are remembered, to
   * answer a reorganisation noticed while running with retractions; a deeper one stops the mirror.
   */
  reorgWindowBlocks?: number;
  /** First block on a first start (no cursor yet); default the registry's deploymentBlock(). */
  startBlock?: number;
  /** Partitions for topics the mirror creates. */
  partitions?: number;
  /** Serve Prometheus metrics on this port (0 = any free port); undefined = no endpoint. */
  metricsPort?: number;
  /** Address the metrics endpoint listens on; default 127.0.0.1 (0.0.0.0 in a pod, for probes and Prometheus). */
  metricsHost?: string;
  progressLogIntervalMs?: number;
  retryInitialMs?: number;
  retryMaxMs?: number;
  logger?: Logger;
  clientId?: string;
}

export type MirrorExit = "stopped" | "fenced";

/** The chain no longer holds what the mirror published (no registry, or behind the cursor). */
export class ChainResetError extends ChainMailError {
  override name = "ChainResetError";
  constructor(message: string) {
    super("ChainReset", message);
  }
}

interface Range {
  from: number;
  to: number;
  events: MirroredEvent[];
  /** Hash of block `to`. */
  toHash: string;
  /** Parent hash of block `from`: must be the last block published, else the chain reorganised. */
  fromParentHash: string | undefined;
  toBlock: BlockRef | null;
}

export class Mirror {
  readonly metrics = new MirrorMetrics();
  readonly logger: Logger;
  private readonly options: Required<Omit<MirrorOptions, "transactionalId" | "startBlock" | "metricsPort" | "metricsHost" | "logger" | "topics">> &
    Pick<MirrorOptions, "transactionalId" | "startBlock" | "metricsPort" | "metricsHost">;
  readonly topics: TopicNames;
  private stopping = false;
  private wake: (() => void) | null = null;
  private metricsServer: Server | null = null;
  /** Totals for this process, for progress lines and tests. */
  readonly stats = { eventsPublished: 0, transactions: 0, retries: 0, nextBlock: -1, fetchMs: 0, decodeMs: 0, publishMs: 0, reorgs: 0, retractions: 0 };
  metricsUrl: string | null = null;
  /** Blocks per range; starts small so a first catch-up does not begin with one huge eth_getLogs. */
  private rangeSize: number;

  constructor(options: MirrorOptions) {
    this.logger = options.logger ?? createLogger({ name: "chainmail-mirror" });
    this.topics = {
      messages: options.topics?.messages ?? DEFAULT_MESSAGES_TOPIC,
      membership: options.topics?.membership ?? DEFAULT_MEMBERSHIP_TOPIC,
      cursor: options.topics?.cursor ?? DEFAULT_CURSOR_TOPIC,
    };
    this.options = {
      rpcUrl: options.rpcUrl,
      registry: options.registry,
      brokers: options.brokers,
      transactionalId: options.transactionalId,
      finality: options.finality ?? "auto",
      confirmations: options.confirmations ?? 0,
      maxBlockRange: options.maxBlockRange ?? 2_000,
      maxEventsPerTransaction: options.maxEventsPerTransaction ?? 5_000,
      pollIntervalMs: options.pollIntervalMs ?? 1_000,
      reorgWindowBlocks: options.reorgWindowBlocks ?? 10_000,
      startBlock: options.startBlock,
      partitions: options.partitions ?? 3,
      metricsPort: options.metricsPort,
      metricsHost: options.metricsHost,
      progressLogIntervalMs: options.progressLogIntervalMs ?? 10_000,
      retryInitialMs: options.retryInitialMs ?? 500,
      retryMaxMs: options.retryMaxMs ?? 15_000,
      clientId: options.clientId ?? "chainmail-mirror",
    };
    this.rangeSize = Math.min(this.options.maxBlockRange, 50);
  }

  /** Asks the loop to finish the transaction in flight and return "stopped". */
  stop(): void {
    this.stopping = true;
    this.wake?.();
  }

  /** Runs until stop() ("stopped") or until another instance fences this one ("fenced"). */
  async run(): Promise<MirrorExit> {
    const o = this.options;
    const log = this.logger;
    if (o.metricsPort !== undefined) {
      this.metricsServer = await serveMetrics(this.metrics, o.metricsPort, o.metricsHost);
      const address = this.metricsServer.address();
      this.metricsUrl = `http://127.0.0.1:${typeof address === "object" && address ? address.port : o.metricsPort}/metrics`;
      log.info({ url: this.metricsUrl }, "metrics endpoint listening");
    }
    const rpc = new RpcClient(o.rpcUrl);
    // Asked on its own first, so an unreachable node is an error we retry, not ethers' retry loop.
    const chainId = await this.retrying("chain", () => rpc.chainId({ timeoutMs: 10_000 }));
    if (chainId === undefined) return this.finish("stopped", null);
    const provider = createProvider(rpc, { chainId });
    const registry = o.registry.toLowerCase();
    const source = new ChainSource(rpc, provider, { chainId, registry }, o.finality, o.confirmations);
    const transactionalId = o.transactionalId ?? `chainmail-mirror-${chainId}-${registry}`;
    const cursorKey = `${chainId}:${registry}`;
    const kafka = new Kafka({
      clientId: o.clientId,
      brokers: o.brokers,
      logLevel: logLevel.WARN,
      logCreator: kafkajsLogCreator(log),
      retry: { retries: 3, initialRetryTime: 200, maxRetryTime: 2_000 },
    });
    const sink = new TransactionalSink(kafka, transactionalId, this.topics.cursor, cursorKey, log);
    let progressTimer: NodeJS.Timeout | null = null;
    try {
      const setup = await this.retrying("chain", async () => {
        const code = await provider.getCode(o.registry);
        if (code === "0x") throw new ChainResetError(`There is no contract at ${o.registry} on chain ${chainId} (${o.rpcUrl}); check --registry and --rpc-url.`);
        const deploymentBlock = Number(await MessageRegistry__factory.connect(o.registry, provider).deploymentBlock());
        const channels = await source.loadChannels();
        return { deploymentBlock, channels };
      });
      if (!setup) return this.finish("stopped", sink, provider);

      const cursor = await this.connectKafka(kafka, sink);
      if (cursor === undefined) return this.finish("stopped", sink, provider);
      let next = cursor?.nextBlock ?? o.startBlock ?? setup.deploymentBlock;
      if (cursor) await this.checkCursorOnChain(source, cursor);
      log.info({
        chainId,
        registry: o.registry,
        transactionalId,
        topics: this.topics,
        resumeFrom: next,
        cursor: cursor ? "committed cursor" : `first start (deployment block ${setup.deploymentBlock})`,
        channels: setup.channels,
      }, "mirror started");
      this.stats.nextBlock = next;
      this.metrics.nextBlock.set(next);
      let lastMirrored: BlockRef | null = next > 0 ? await this.retrying("chain", () => source.block(next - 1)) ?? null : null;
      const window = new PublishedWindow(o.reorgWindowBlocks);
      if (lastMirrored) window.record(lastMirrored.number, lastMirrored.hash);
      progressTimer = setInterval(() => this.logProgress(source), o.progressLogIntervalMs);
      progressTimer.unref();

      let failures = 0;
      let latest: BlockRef | null = null;
      let tipNumber = -1;
      // The next range, read while the current one is being published (catch-up speed).
      let prefetched: { from: number; range: Promise<Range> } | null = null;
      while (!this.stopping) {
        let range: Range | null;
        try {
          if (prefetched && prefetched.from === next) {
            range = await prefetched.range;
          } else {
            latest = await source.block("latest");
            const tip = latest ? await source.safeTip(latest) : null;
            tipNumber = tip?.number ?? -1;
            this.updateLag(latest, lastMirrored);
            range = tip && next <= tip.number ? await this.readRange(source, next, Math.min(next + this.rangeSize - 1, tip.number)) : null;
          }
          prefetched = null;
          failures = 0;
        } catch (error) {
          prefetched = null;
          this.retried("chain", error, failures);
          await this.sleep(backoff(failures++, o.retryInitialMs, o.retryMaxMs));
          continue;
        }
        // A reorganisation below the finality setting: the next block no longer names the
        // last one published (or, idle, that block itself was replaced).
        let replaced = false;
        try {
          if (range && lastMirrored && range.from === lastMirrored.number + 1) replaced = range.fromParentHash !== undefined && range.fromParentHash !== lastMirrored.hash;
          else if (!range && lastMirrored) {
            const now = await source.block(lastMirrored.number);
            replaced = now !== null && now.hash !== lastMirrored.hash;
          }
          if (replaced) {
            prefetched = null;
            const ancestor = await this.retractReorg(source, sink, kafka, window, lastMirrored!, chainId, registry, provider);
            if (ancestor === undefined) break; // stopping
            next = ancestor.number + 1;
            lastMirrored = ancestor;
            this.stats.nextBlock = next;
            this.metrics.nextBlock.set(next);
            continue;
          }
        } catch (error) {
          if (error instanceof FencedError || error instanceof ChainResetError) throw error;
          prefetched = null;
          this.retried("chain", error, failures);
          await this.sleep(backoff(failures++, o.retryInitialMs, o.retryMaxMs));
          continue;
        }
        if (!range) {
          await this.sleep(o.pollIntervalMs);
          continue;
        }
        if (range.to < tipNumber) {
          const from: number = range.to + 1;
          const read = this.readRange(source, from, Math.min(from + this.rangeSize - 1, tipNumber));
          read.catch(() => {}); // awaited (and its error handled) in the next round
          prefetched = { from, range: read };
        }
        const committed = await this.publishRange(kafka, sink, range, chainId, registry);
        if (committed === undefined) break; // stopping
        // Remembered whatever part committed: a retraction for a channel that had nothing
        // committed is harmless (it rewinds readers to the chain's own state).
        window.recordEvents(range.events);
        if (committed === range.to + 1) window.record(range.to, range.toHash);
        window.prune(committed);
        next = committed;
        this.stats.nextBlock = next;
        this.metrics.nextBlock.set(next);
        if (next === range.to + 1 && range.toBlock) lastMirrored = range.toBlock;
        this.updateLag(latest, lastMirrored);
      }
      return this.finish("stopped", sink, provider);
    } catch (error) {
      if (error instanceof FencedError) {
        this.metrics.fenced.set(1);
        log.error({ transactionalId }, error.message);
        return this.finish("fenced", sink, provider);
      }
      await this.finish("stopped", sink, provider);
      throw error;
    } finally {
      if (progressTimer) clearInterval(progressTimer);
    }
  }

  private async finish(exit: MirrorExit, sink: TransactionalSink | null, provider?: JsonRpcProvider): Promise<MirrorExit> {
    await sink?.close();
    provider?.destroy();
    if (this.metricsServer) {
      this.metricsServer.closeAllConnections();
      await new Promise((r) => this.metricsServer!.close(r));
      this.metricsServer = null;
    }
    this.logger.info({ ...this.stats }, exit === "fenced" ? "mirror stopped: fenced" : "mirror stopped");
    return exit;
  }

  /** New producer session (fences older ones, aborts what they left open), then the committed cursor. */
  private async connectKafka(kafka: Kafka, sink: TransactionalSink): Promise<MirrorCursor | null | undefined> {
    return this.retrying("kafka", async () => {
      const admin = kafka.admin();
      await admin.connect();
      try {
        const created = await ensureTopics(admin, this.topics, this.options.partitions);
        if (created.length) this.logger.info({ topics: created }, "created topics");
      } finally {
        await admin.disconnect();
      }
      await sink.connect();
      return readCursor(kafka, this.topics.cursor, sink.cursorKey, this.logger);
    });
  }

  /** Refuses to continue on a chain whose block below the cursor is not the one we mirrored. */
  private async checkCursorOnChain(source: ChainSource, cursor: MirrorCursor): Promise<void> {
    if (!cursor.lastBlockHash || cursor.nextBlock === 0) return;
    const block = await this.retrying("chain", () => source.block(cursor.nextBlock - 1));
    if (block && block.hash !== cursor.lastBlockHash) {
      throw new ChainResetError(
        `The chain's block ${cursor.nextBlock - 1} is ${block.hash}, but the mirror's cursor recorded ${cursor.lastBlockHash}: the chain was reset or reorganised below the cursor. Use a new cursor topic (and event topics) for this chain.`,
      );
    }
    if (!block) {
      this.logger.warn({
        cursorNextBlock: cursor.nextBlock,
      }, "the chain is behind the mirror's cursor (a reset chain or a lagging node?); waiting for it");
    }
  }

  /**
   * Blocks per range, adapted to how busy the chain is: about one transaction's worth of
   * events per range keeps memory bounded and lets reading overlap publishing; sparse
   * chains grow back to maxBlockRange.
   */
  private adaptRangeSize(blocks: number, events: number): void {
    const target = this.options.maxEventsPerTransaction;
    if (events > target) this.rangeSize = Math.max(1, Math.floor((blocks * target) / events));
    else if (events < target / 2) this.rangeSize = Math.min(this.options.maxBlockRange, this.rangeSize * 2);
  }

  private async readRange(source: ChainSource, from: number, to: number): Promise<Range> {
    const startedAt = performance.now();
    // Nodes cap eth_getLogs; the log reader halves the range until the node answers.
    const { to: end, logs } = await source.logs(from, to, (retry) =>
      this.logger.warn(
        { from, to: retry.toBlock, nextRangeBlocks: retry.chunkBlocks, error: String(retry.error) },
        retry.reason === "range-too-large" ? "eth_getLogs refused; trying a smaller block range" : "eth_getLogs failed; retrying",
      ),
    );
    this.adaptRangeSize(end - from + 1, logs.length);
    const [fromBlock, toBlock] = await Promise.all([end === from ? null : source.block(from), source.block(end)]);
    if (!toBlock || (end !== from && !fromBlock)) throw new Error(`The node does not have block ${end} yet.`);
    const first = fromBlock ?? toBlock;
    // Logs read before a reorganisation and blocks read after it would not match: read again.
    for (const l of logs) {
      const expected = l.blockNumber === end ? toBlock.hash : l.blockNumber === from ? first.hash : undefined;
      if (expected !== undefined && l.blockHash.toLowerCase() !== expected) {
        throw new Error(`Block ${l.blockNumber} changed while its range was read (a reorganisation); reading it again.`);
      }
    }
    const fetchedAt = performance.now();
    const events = logs.map((l) => source.toEvent(l)).filter((e): e is MirroredEvent => e !== null);
    this.stats.fetchMs += Math.round(fetchedAt - startedAt);
    this.stats.decodeMs += Math.round(performance.now() - fetchedAt);
    this.logger.debug({
      from,
      to: end,
      logs: logs.length,
      fetchMs: Math.round(fetchedAt - startedAt),
      decodeMs: Math.round(performance.now() - fetchedAt),
      nextRangeSize: this.rangeSize,
    }, "read block range");
    return { from, to: end, events, toHash: toBlock.hash, toBlock, fromParentHash: first.parentHash };
  }

  /** The cursor committed with a Kafka transaction: every block below `nextBlock` is published, the last one being `lastBlockHash`. */
  private cursorAt(chainId: bigint, registry: string, nextBlock: number, lastBlockHash: string): MirrorCursor {
    return {
      schema: CURSOR_SCHEMA,
      chainId: chainId.toString(),
      registry,
      nextBlock,
      lastBlockHash,
      messagesTopic: this.topics.messages,
      membershipTopic: this.topics.membership,
      updatedAt: new Date().toISOString(),
    };
  }

  /**
   * Publishes `range` in transactions of whole blocks. Returns the committed next block,
   * or undefined when asked to stop while Kafka was failing.
   */
  private async publishRange(kafka: Kafka, sink: TransactionalSink, range: Range, chainId: bigint, registry: string): Promise<number | undefined> {
    const o = this.options;
    let start = range.from;
    for (const part of splitByBlocks(range, o.maxEventsPerTransaction)) {
      const cursor = this.cursorAt(chainId, registry, part.to + 1, part.toHash);
      const records = new Map<string, Message[]>([
        [this.topics.messages, []],
        [this.topics.membership, []],
      ]);
      for (const event of part.events) {
        const topic = event.topic === "messages" ? this.topics.messages : this.topics.membership;
        records.get(topic)!.push({
          key: event.key,
          value: JSON.stringify(event.value),
          headers: { schema: event.topic === "messages" ? MESSAGE_EVENT_SCHEMA : MEMBERSHIP_EVENT_SCHEMA },
        });
      }
      for (let failures = 0; ; failures++) {
        try {
          const startedAt = Date.now();
          await sink.publish({ records, cursor });
          this.stats.transactions++;
          this.stats.publishMs += Date.now() - startedAt;
          this.stats.eventsPublished += part.events.length;
          this.metrics.transactions.inc();
          this.metrics.published(this.topics.messages, records.get(this.topics.messages)!.length);
          this.metrics.published(this.topics.membership, records.get(this.topics.membership)!.length);
          this.logger.info({
            fromBlock: start,
            toBlock: part.to,
            messages: records.get(this.topics.messages)!.length,
            membership: records.get(this.topics.membership)!.length,
            ms: Date.now() - startedAt,
          }, "committed");
          start = part.to + 1;
          break;
        } catch (error) {
          if (error instanceof FencedError) throw error;
          this.retried("kafka", error, failures);
          await this.sleep(backoff(failures, o.retryInitialMs, o.retryMaxMs));
          if (this.stopping) return undefined;
          // The committed cursor decides: the commit may have landed before the error.
          const committed = await this.connectKafka(kafka, sink);
          if (committed === undefined) return undefined;
          const committedNext = committed?.nextBlock ?? start;
          if (committedNext !== start) {
            this.logger.warn({
              inFlightFrom: start,
              committedNextBlock: committedNext,
            }, "the committed cursor differs from the range in flight; continuing from the cursor");
            return committedNext;
          }
        }
      }
    }
    return range.to + 1;
  }

  /**
   * The chain replaced block `last` (or one below it) after the mirror published from it:
   * finds the newest remembered block still on the chain, then publishes, in one Kafka
   * transaction with the cursor moved back to just after it, one retraction per channel and
   * topic that had events above it. Returns that common ancestor (undefined when stopping).
   */
  private async retractReorg(
    source: ChainSource,
    sink: TransactionalSink,
    kafka: Kafka,
    window: PublishedWindow,
    last: BlockRef,
    chainId: bigint,
    registry: string,
    provider: JsonRpcProvider,
  ): Promise<BlockRef | undefined> {
    if (source.finalityInUse === "finalized") {
      throw new ChainResetError(
        `Block ${last.number} (${last.hash}), which the node had reported finalized, is no longer on the chain: finalized blocks cannot be reorganised, so the node or the network is broken. The mirror stops rather than publish from it; check the node, then restart the mirror on a new cursor topic if the chain was really replaced.`,
      );
    }
    let ancestor: BlockRef | null = null;
    for (const number of window.numbersDescending()) {
      const block = await source.block(number);
      if (block && block.hash === window.hashOf(number)) {
        ancestor = block;
        break;
      }
    }
    if (!ancestor) {
      throw new ChainResetError(
        `The chain reorganised below block ${last.number} deeper than the ${this.options.reorgWindowBlocks} blocks the mirror remembers (--reorg-window-blocks): what it published from the replaced blocks is no longer known. Use a new cursor topic (and event topics), or a stricter --finality.`,
      );
    }
    const retractions = await retractionsAbove(window, ancestor, { chainId, registry, provider });
    const asRecord = (r: RetractionEvent) => ({ key: r.channel, value: JSON.stringify(r), headers: { schema: RETRACTION_SCHEMA } });
    const records = new Map<string, Message[]>([
      [this.topics.messages, retractions.messages.map(asRecord)],
      [this.topics.membership, retractions.membership.map(asRecord)],
    ]);
    const cursor = this.cursorAt(chainId, registry, ancestor.number + 1, ancestor.hash);
    for (let failures = 0; ; failures++) {
      try {
        await sink.publish({ records, cursor });
        break;
      } catch (error) {
        if (error instanceof FencedError) throw error;
        this.retried("kafka", error, failures);
        await this.sleep(backoff(failures, this.options.retryInitialMs, this.options.retryMaxMs));
        if (this.stopping) return undefined;
        if ((await this.connectKafka(kafka, sink)) === undefined) return undefined;
      }
    }
    window.dropAbove(ancestor.number);
    const count = retractions.messages.length + retractions.membership.length;
    this.stats.reorgs++;
    this.stats.retractions += count;
    this.metrics.reorgs.inc();
    this.metrics.retractions.inc(count);
    this.logger.warn({
      replacedBlock: last.number,
      replacedHash: last.hash,
      commonAncestor: ancestor.number,
      ancestorHash: ancestor.hash,
      retractions: [...retractions.messages, ...retractions.membership].map((r) => ({ channel: r.channelName, fromSeq: r.fromSeq, fromBlock: r.fromBlock })),
    }, "the chain reorganised below the finality setting; retracted what was published from the replaced blocks and re-reading from the common ancestor");
    return ancestor;
  }

  private updateLag(latest: BlockRef | null, lastMirrored: BlockRef | null): void {
    if (!latest) return;
    const mirroredNumber = lastMirrored?.number ?? -1;
    this.metrics.lagBlocks.set(Math.max(0, latest.number - mirroredNumber));
    this.metrics.lagSeconds.set(lastMirrored ? Math.max(0, latest.timestamp - lastMirrored.timestamp) : 0);
  }

  private async logProgress(source: ChainSource): Promise<void> {
    const lagBlocks = (await this.metrics.lagBlocks.get()).values[0]?.value ?? 0;
    const lagSeconds = (await this.metrics.lagSeconds.get()).values[0]?.value ?? 0;
    this.logger.info({ ...this.stats, lagBlocks, lagSeconds, finality: source.finalityInUse }, "progress");
  }

  private retried(stage: "chain" | "kafka", error: unknown, failures: number): void {
    this.stats.retries++;
    this.metrics.retries.inc({ stage });
    this.logger.warn({
      stage,
      attempt: failures + 1,
      error: error instanceof Error ? error.message : String(error),
    }, `${stage === "kafka" ? "Kafka" : "the chain node"} failed; retrying with backoff (nothing is lost: the chain keeps the backlog)`);
  }

  /** Retries `fn` with backoff until it succeeds or stop() is called (then undefined). */
  private async retrying<T>(stage: "chain" | "kafka", fn: () => Promise<T>): Promise<T | undefined> {
    for (let failures = 0; !this.stopping; failures++) {
      try {
        return await fn();
      } catch (error) {
        if (error instanceof FencedError || error instanceof ChainResetError) throw error;
        this.retried(stage, error, failures);
        await this.sleep(backoff(failures, this.options.retryInitialMs, this.options.retryMaxMs));
      }
    }
    return undefined;
  }

  private sleep(ms: number): Promise<void> {
    if (this.stopping) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.wake = null;
        resolve();
      }, ms);
      this.wake = () => {
        clearTimeout(timer);
        this.wake = null;
        resolve();
      };
    });
  }
}

/** Exponential backoff with jitter, capped. */
export function backoff(failures: number, initialMs: number, maxMs: number): number {
  const base = Math.min(maxMs, initialMs * 2 ** Math.min(failures, 20));
  return Math.round(base * (0.75 + Math.random() * 0.5));
}

/**
 * Splits a range into parts of at most `maxEvents` events, cutting only between blocks
 * (the cursor counts blocks, so a block must never be split over two transactions).
 * The last part always ends at `range.to`.
 */
export function splitByBlocks(range: Range, maxEvents: number): Array<{ to: number; toHash: string; events: MirroredEvent[] }> {
  const parts: Array<{ to: number; toHash: string; events: MirroredEvent[] }> = [];
  let current: MirroredEvent[] = [];
  let i = 0;
  const events = range.events;
  while (i < events.length) {
    const block = events[i].blockNumber;
    let j = i;
    while (j < events.length && events[j].blockNumber === block) j++;
    const blockEvents = events.slice(i, j);
    if (current.length > 0 && current.length + blockEvents.length > maxEvents) {
      const last = current[current.length - 1];
      parts.push({ to: last.blockNumber, toHash: last.value.blockHash, events: current });
      current = [];
    }
    current.push(...blockEvents);
    i = j;
  }
  parts.push({ to: range.to, toHash: range.toHash, events: current });
  return parts;
}
