/**
 * What the relayer does for a client, whichever door the client came through: the HTTP
 * routes and the gRPC handlers are thin adapters over these functions, so that both
 * take the same checks, the same rate limits, the same submitter and the same outcomes,
 * and refuse with the same ApiError (status, machine-readable code, sentence).
 */
import { TypeCompiler } from "@sinclair/typebox/compiler";
import { toBeHex, zeroPadValue } from "ethers";
import { collectLogs } from "@chainmail/chain";
import { allChannelIds, channelName, decodeMessagePosted, MESSAGE_POSTED_TOPIC, SignedMessageJson, type PostedMessage, type SignedMessage } from "@chainmail/protocol";
import { parseSignedMessage } from "./checks.js";
import { ApiError, ErrorCodes } from "./errors.js";
import { chainUnavailable } from "./load.js";
import type { Outcome } from "./outcomes.js";
import type { Services } from "./services.js";
import type { PendingMessage } from "./submitter/index.js";
import { observeStage } from "./stage-timings.js";

/** What a post or a status request answers: accepted and waiting, or a definitive outcome. */
export type Answer = { status: "pending"; digest: string } | Outcome;

export interface PostOptions {
  /** Who is asking (the client's address), for the per-client rate limit. */
  client: string;
  /** Hold the answer until the message settles, at most this long; undefined: answer at once. */
  waitMs?: number;
  /** The client went away (or its deadline passed): stop waiting. */
  signal?: AbortSignal;
  /** Where to say that the chain could not be read. */
  warn?: (error: unknown, message: string) => void;
}

/** The relayer is shutting down: a retryable refusal, saying what to do elsewhere. */
export function shuttingDown(message = "The relayer is shutting down; send the message to another relayer or again shortly."): ApiError {
  return new ApiError(503, ErrorCodes.ShuttingDown, message, { "retry-after": "1" });
}

const signedMessageCheck = TypeCompiler.Compile(SignedMessageJson);

/**
 * Checks a signed message that did not come through Fastify's schema validation (gRPC)
 * against the same schema, with the same kind of sentence.
 */
export function validateSignedMessage(value: unknown, where = "message"): SignedMessageJson {
  if (signedMessageCheck.Check(value)) return value;
  if (value === undefined) throw new ApiError(400, ErrorCodes.InvalidRequest, `${where} is missing: send the signed message.`);
  const first = signedMessageCheck.Errors(value).First();
  const field = first?.path ? `${where}${first.path.replace(/\//g, ".")}` : where;
  throw new ApiError(400, ErrorCodes.InvalidRequest, `${field} ${first?.schema.description ? `is not ${first.schema.description}` : (first?.message ?? "is not valid")}.`);
}

/** Rate limits, pre-checks, then queueing (or the known outcome); waits when asked. */
export async function postSigned(services: Services, json: SignedMessageJson, options: PostOptions): Promise<Answer> {
  const { checker, submitter, config } = services;
  if (submitter.isStopping) throw shuttingDown();
  const clientWait = services.clientLimiter.take(options.client);
  if (clientWait > 0) throw new ApiError(429, ErrorCodes.RateLimited, `Too many requests from ${options.client}; retry in ${clientWait} s.`, { "retry-after": String(clientWait) });
  services.load.assertRoom();

  const startedMs = performance.now();
  const message = parseSignedMessage(json);
  // The author's allowance is charged only once the signature is the author's: a
  // message that merely names an author must not spend it.
  const chargeAuthor = () => {
    const authorWait = services.authorLimiter.take(json.author.toLowerCase());
    if (authorWait > 0) throw new ApiError(429, ErrorCodes.RateLimited, `Too many messages from author ${json.author}; retry in ${authorWait} s.`, { "retry-after": String(authorWait) });
  };
  let result;
  try {
    result = await services.load.precheck(
      () => checker.check(message, chargeAuthor),
      // Answered 503 meanwhile: give back the nonce claim of a check that passed late.
      (late) => {
        if (late.kind === "new") submitter.releaseNonce(message.author, message.nonce, late.digest);
      },
    );
  } catch (error) {
    if (error instanceof ApiError) throw error;
    options.warn?.(error, "pre-check could not read the chain");
    throw chainUnavailable();
  }
  if (result.kind === "known") return result.outcome;
  if (result.kind === "new") observeStage(services.metrics.stages, "precheck", startedMs);
  const entry = result.kind === "pending" ? result.entry : await accept(services, result.digest, result.message, json);
  const pending: Answer = { status: "pending", digest: result.digest };
  if (options.waitMs === undefined || options.signal?.aborted) return pending;
  const waitMs = Math.min(options.waitMs, config.waitTimeoutMs);
  let timer: ReturnType<typeof setTimeout> | undefined;
  let forget: (() => void) | undefined;
  const settlement = await Promise.race([
    entry.settled,
    new Promise<undefined>((resolve) => {
      timer = setTimeout(() => resolve(undefined), waitMs);
      if (options.signal) forget = onAbort(options.signal, () => resolve(undefined));
    }),
  ]);
  clearTimeout(timer);
  forget?.();
  if (!settlement) return pending;
  // The submitter gave up for now, but the journal keeps the message and tries again.
  if (settlement.status === "failed" && settlement.code !== ErrorCodes.ShuttingDown && services.intake?.has(settlement.digest)) return pending;
  if (settlement.status === "failed") {
    throw new ApiError(503, settlement.code, settlement.message, { "retry-after": "1" }, { digest: settlement.digest });
  }
  return settlement;
}

const abortWaiters = new WeakMap<AbortSignal, Set<() => void>>();

/**
 * Runs `fn` when `signal` aborts; returns the function that cancels that. Every message
 * of a gRPC stream waits on the stream's one signal: an EventTarget listener each made
 * removing one cost a walk of thousands (measured: ~10 µs a message), a Set does not.
 */
export function onAbort(signal: AbortSignal, fn: () => void): () => void {
  let waiters = abortWaiters.get(signal);
  if (!waiters) {
    const set = (waiters = new Set());
    abortWaiters.set(signal, set);
    signal.addEventListener("abort", () => {
      for (const waiter of set) waiter();
      set.clear();
    }, { once: true });
  }
  if (signal.aborted) {
    fn();
    return () => undefined;
  }
  waiters.add(fn);
  return () => waiters.delete(fn);
}

/** Queues a checked message; with a journal, only once it is on disk (what makes the 202 durable). */
function accept(services: Services, digest: string, message: SignedMessage, json: SignedMessageJson): PendingMessage | Promise<PendingMessage> {
  const enqueue = () => services.submitter.enqueue(digest, message);
  return services.intake ? services.intake.accept(digest, json, enqueue) : enqueue();
}

/** A message's status by digest: pending here, or its outcome from the index (caught up from the chain). */
export async function messageStatus(services: Services, digest: string, warn?: PostOptions["warn"]): Promise<Answer> {
  const key = digest.toLowerCase();
  if (services.submitter.get(key) || services.intake?.has(key)) return { status: "pending", digest: key };
  let outcome: Outcome | undefined;
  try {
    outcome = await services.index.find(key);
  } catch (error) {
    warn?.(error, "status lookup could not read the chain");
    throw new ApiError(503, ErrorCodes.ChainUnavailable, "The relayer cannot read the chain right now; ask again shortly.", { "retry-after": "2" });
  }
  if (!outcome) {
    services.metrics.precheckRejections.inc({ code: ErrorCodes.UnknownMessage });
    throw new ApiError(
      404,
      ErrorCodes.UnknownMessage,
      "No message with this digest is pending or on-chain: it was never accepted, or a relayer restarted before sending it; send the signed message again.",
    );
  }
  return outcome;
}

export interface ChannelState {
  id: string;
  name: string;
  open: boolean;
  seq: bigint;
  head: string;
}

/** Every channel with its state, from the contract's views. */
export async function listChannels(services: Services): Promise<ChannelState[]> {
  const { chain } = services;
  const ids = await allChannelIds(chain.registry);
  return Promise.all(
    ids.map(async (id) => {
      const [, open, seq, head] = await chain.registry.channelInfo(id);
      return { id, name: channelName(id), open, seq, head };
    }),
  );
}

export interface MessagePage {
  channel: string;
  /** The channel's last seq. */
  seq: bigint;
  messages: PostedMessage[];
  /** Where the next page starts; null when this page reached the channel's last message. */
  nextFromSeq: bigint | null;
}

export const MAX_PAGE = 200;

/** A page of a channel's messages in seq order, from its MessagePosted events (seq is an indexed topic). */
export async function channelMessages(services: Services, channel: string, fromSeq: bigint, limit: number): Promise<MessagePage> {
  const { chain } = services;
  const id = channel.toLowerCase();
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE) throw new ApiError(400, ErrorCodes.InvalidRequest, `limit must be from 1 to ${MAX_PAGE}.`);
  const state = await chain.channel(id, true);
  if (!state.exists) throw new ApiError(404, "UnknownChannel", `No channel ${id}.`);
  const last = fromSeq + BigInt(limit) - 1n < state.seq ? fromSeq + BigInt(limit) - 1n : state.seq;
  const messages: PostedMessage[] = [];
  if (fromSeq <= last) {
    const seqTopics: string[] = [];
    for (let s = fromSeq; s <= last; s++) seqTopics.push(zeroPadValue(toBeHex(s), 32));
    const latest = await chain.rpc.blockNumber();
    const logs = await collectLogs(
      chain.rpc,
      { address: chain.location.address, topics: [MESSAGE_POSTED_TOPIC, id, seqTopics] },
      { fromBlock: chain.deploymentBlock, toBlock: latest, chunkBlocks: services.config.logChunkBlocks },
    );
    messages.push(...logs.map((log) => decodeMessagePosted(chain.location, log)));
    messages.sort((a, b) => (a.seq < b.seq ? -1 : 1));
  }
  return { channel: id, seq: state.seq, messages, nextFromSeq: last < state.seq ? last + 1n : null };
}
