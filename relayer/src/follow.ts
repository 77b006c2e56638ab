/**
 * A channel followed from the chain: its messages from a seq on, then live, each one
 * checked by the protocol's one verifier (ChannelRun) before it is handed on. The source
 * is the registry's MessagePosted logs through the chain package's log reader, not
 * Kafka: the chain is the record (Kafka holds copies), the relayer already reads it, and
 * the relayer then needs no broker. What a lying node could do (drop, alter, reorder or
 * invent a message) is what the verifier catches: the stream ends with the finding.
 */
import { toBeHex, zeroPadValue } from "ethers";
import { collectLogs, readLogs, type BlockRef, type JsonRpcCaller } from "@chainmail/chain";
import {
  ChainMailError,
  ChannelRun,
  DISCREPANCY_KINDS,
  MessagePostedDecoder,
  MESSAGE_POSTED_TOPIC,
  type DiscrepancyKind,
  type PostedMessage,
} from "@chainmail/protocol";
import { fastestRecovery, recoverHex } from "@chainmail/protocol/signatures";
import { ApiError, ErrorCodes } from "./errors.js";
import type { Services } from "./services.js";

/** A message the chain gave failed a check: the record read from the node is not the sealed one. */
export class ChainBreakError extends ChainMailError {
  override name = "ChainBreakError";

  constructor(
    readonly kind: DiscrepancyKind,
    readonly seq: bigint,
    detail: string,
  ) {
    super(kind, `Message ${seq}: ${DISCREPANCY_KINDS[kind]} ${detail}`);
  }
}

export interface FollowOptions {
  /** Stops following (the client went away, or the relayer is shutting down). */
  signal: AbortSignal;
}

const seqTopic = (seq: bigint) => zeroPadValue(toBeHex(seq), 32);

const sharedCallers = new WeakMap<JsonRpcCaller, JsonRpcCaller>();

/**
 * `rpc` with identical calls in flight at once answered by one: when a block becomes
 * final, every caught-up stream of a channel asks for the same logs, and without this
 * the node's load grew with the subscribers (200 streams, 200 eth_getLogs a block).
 * Only calls in flight are shared, nothing is kept, and each stream still checks what
 * it is given.
 */
function sharingCalls(rpc: JsonRpcCaller): JsonRpcCaller {
  let shared = sharedCallers.get(rpc);
  if (!shared) {
    const inFlight = new Map<string, Promise<unknown>>();
    shared = {
      call<T>(method: string, params: unknown[]): Promise<T> {
        const key = `${method} ${JSON.stringify(params)}`;
        let answer = inFlight.get(key);
        if (!answer) {
          answer = rpc.call<T>(method, params).finally(() => inFlight.delete(key));
          inFlight.set(key, answer);
        }
        return answer as Promise<T>;
      },
    };
    sharedCallers.set(rpc, shared);
  }
  return shared;
}

/**
 * Yields `channel`'s messages with seq >= `fromSeq` in seq order, then new ones once
 * their block is final by `services.finality` (as the mirror's), until `signal` aborts.
 * Once caught up it waits on `services.finalHead`, the look all streams share.
 * `fromSeq` may be at most the channel's last seq + 1.
 */
export async function* followChannel(services: Services, channel: string, fromSeq: bigint, options: FollowOptions): AsyncGenerator<PostedMessage> {
  const { chain, config } = services;
  const id = channel.toLowerCase();
  const state = await chain.channel(id, true);
  if (!state.exists) throw new ApiError(404, "UnknownChannel", `No channel ${id}.`);
  if (fromSeq < 1n) fromSeq = 1n;
  if (fromSeq > state.seq + 1n) throw beyondTheChannel(fromSeq, state.seq);
  const decoder = new MessagePostedDecoder(chain.location);
  const rpc = sharingCalls(chain.rpc);
  // The run starts at the genesis head, or at the head of message fromSeq - 1, read from
  // the chain (seq is an indexed topic) and checked like the others (its signature).
  const run = new ChannelRun({ joinMidStream: fromSeq > 1n });
  const anchorLogs = (toBlock: number) =>
    collectLogs(
      rpc,
      { address: chain.location.address, topics: [MESSAGE_POSTED_TOPIC, id, seqTopic(fromSeq - 1n)] },
      { fromBlock: chain.deploymentBlock, toBlock, chunkBlocks: config.logChunkBlocks },
    );
  let fromBlock = chain.deploymentBlock;
  let seen = -1;
  let tip: BlockRef | null = null;
  if (fromSeq > 1n) {
    // The anchor too comes from a final block. A client resumes from a message that is
    // only mined ("confirmed" means mined): were its block replaced, the messages after
    // it would link to another head, and the stream would end on a break that is not one.
    for (;;) {
      tip = await services.finalHead.after(seen, options.signal);
      if (!tip) return;
      seen = tip.number;
      let anchors = await anchorLogs(tip.number);
      if (anchors.length === 0) {
        // Not final yet (wait for the next final block), or not there at all.
        const latest = await chain.rpc.blockNumber();
        anchors = await anchorLogs(latest);
        if (anchors.length === 1) continue;
        if (anchors.length === 0) {
          // Gone in a reorganisation, or withheld by the node: the channel's seq tells which.
          const now = await chain.channel(id, true);
          if (fromSeq > now.seq + 1n) throw beyondTheChannel(fromSeq, now.seq);
        }
      }
      if (anchors.length !== 1) throw new ChainBreakError(anchors.length === 0 ? "SEQ_GAP" : "SEQ_DUPLICATE", fromSeq - 1n, `The node returned ${anchors.length} events for it.`);
      const anchor = decode(decoder, anchors[0]);
      check(run, anchor);
      fromBlock = anchor.blockNumber;
      break;
    }
  }
  let next = fromSeq;
  while (!options.signal.aborted) {
    // Only up to a final block: a message in a block that may still be replaced would
    // reach the subscriber and then vanish (or change) on the chain.
    if (!tip) tip = await services.finalHead.after(seen, options.signal);
    if (!tip) return;
    seen = tip.number;
    const toBlock = tip.number;
    tip = null;
    if (toBlock < fromBlock) continue;
    const chunks = readLogs(
      rpc,
      { address: chain.location.address, topics: [MESSAGE_POSTED_TOPIC, id] },
      { fromBlock, toBlock, chunkBlocks: config.logChunkBlocks },
    );
    for await (const chunk of chunks) {
      const messages = chunk.logs.map((log) => decode(decoder, log)).sort((a, b) => (a.seq < b.seq ? -1 : a.seq > b.seq ? 1 : 0));
      for (const m of messages) {
        if (m.seq < next) continue; // before the start (the anchor's block), or already sent
        check(run, m);
        next = m.seq + 1n;
        yield m;
        if (options.signal.aborted) return;
      }
      fromBlock = chunk.toBlock + 1;
    }
  }
}

function beyondTheChannel(fromSeq: bigint, seq: bigint): ApiError {
  return new ApiError(400, ErrorCodes.InvalidRequest, `from_seq ${fromSeq} is beyond the channel's next message (${seq + 1n}); resume from the last seq you received plus one.`);
}

/** The verifier's judgement on one message (digest recomputed by the decoder, signature, head link); a finding ends the stream. */
function check(run: ChannelRun, m: PostedMessage): void {
  // Once per stream for each message: ethers' recovery (recoverAuthor) was half of the
  // relayer's time with 200 streams open.
  const signer = recoverHex(fastestRecovery(), m.digest, m.signature);
  const step = run.step({ seq: m.seq, digest: m.digest, head: m.head, signed: signer !== null && signer === m.author.toLowerCase() });
  if (step.status === "broken" || step.status === "redelivered") {
    const finding = step.findings[0] ?? { kind: "SEQ_DUPLICATE" as const };
    const detail = [finding.expected && `Expected ${finding.expected}`, finding.actual && `got ${finding.actual}`].filter(Boolean).join(", ");
    throw new ChainBreakError(finding.kind, m.seq, detail ? `${detail}.` : "");
  }
}

/** Decodes a MessagePosted log; one that cannot be decoded is a finding too. */
function decode(decoder: MessagePostedDecoder, log: Parameters<MessagePostedDecoder["decode"]>[0]): PostedMessage {
  try {
    return decoder.decode(log);
  } catch (error) {
    throw new ChainBreakError("MALFORMED_LOG", BigInt(log.topics[2] ?? 0), (error as Error).message);
  }
}
