/**
 * Checks a channel's message events as a subscriber receives them, by the protocol's
 * one verifier (ChannelRun): each event's digest is recomputed from its fields, its
 * signature recovered, and its head recomputed from the previous head, so a consumer
 * notices a forged, altered, dropped or reordered message without trusting Kafka or the
 * mirror. Findings use the protocol's DISCREPANCY_KINDS names.
 */
import {
  ChannelRun,
  digestOf,
  messageEventProblem,
  registryOf,
  signedMessageOf,
  type DiscrepancyKind,
  type MessageEvent,
  type RetractionEvent,
  type RunFinding,
} from "@chainmail/protocol";
import { fastestRecovery, recoverHex } from "@chainmail/protocol/signatures";
import { getAddress } from "ethers";

export interface ChainBreak {
  kind: DiscrepancyKind;
  channel: string;
  channelName: string;
  seq: string | null;
  /** One sentence for people, with the numbers. */
  message: string;
  expected?: string;
  actual?: string;
  event?: unknown;
}

export type CheckOutcome =
  | { status: "ok"; event: MessageEvent; note?: string }
  | { status: "redelivered"; event: MessageEvent; note: string }
  /** `break` is the first of `breaks`: an event can show more than one (a gap and a bad signature). */
  | { status: "broken"; event?: MessageEvent; break: ChainBreak; breaks: ChainBreak[] };

/** Events of one registry and channel are one hash chain; the key keeps registries apart. */
function streamKey(e: MessageEvent): string {
  return `${e.chainId}:${e.registry.toLowerCase()}:${e.channel}`;
}

/** The sentence for one finding at event `e`. */
function sentence(e: MessageEvent, f: RunFinding, signer: string | null): string {
  const at = `Message ${e.seq} of ${e.channelName}`;
  switch (f.kind) {
    case "BODY_ALTERED":
      return f.actual
        ? `${at}: its fields hash to ${f.expected}, but the event claims digest ${f.actual}; the message was altered.`
        : `${at}: its fields hash to ${f.expected}, which is neither what ${e.author} signed nor what the head chain sealed; the message was altered.`;
    case "BAD_SIGNATURE":
      return `${at}: the signature ${signer ? `was made by ${signer}` : "is not a valid signature"}, not by the author ${e.author}.`;
    case "HEAD_MISMATCH":
      return e.seq === "1"
        ? `${at}: the head should be ${f.expected} (from the genesis head), but the event says ${e.head}.`
        : `${at}: the head chain breaks; expected head ${f.expected} from the previous message's head, but the event says ${e.head}.`;
    case "SEQ_GAP": {
      const from = BigInt(f.expected!);
      const to = BigInt(e.seq) - 1n;
      return `${from === to ? `Message ${from} is` : `Messages ${from} to ${to} are`} missing in ${e.channelName}: after ${from - 1n} came ${e.seq}. Continuing from ${e.seq}'s head.`;
    }
    case "SEQ_DUPLICATE":
      return `Two different messages claim seq ${e.seq} in ${e.channelName} (digests ${f.expected} and ${f.actual}).`;
    case "SEQ_ORDER":
      return `${at} arrived after message ${BigInt(f.expected!) - 1n}: out of order.`;
    default:
      return `${at}: ${f.kind}.`;
  }
}

export class ChainChecker {
  private readonly runs = new Map<string, ChannelRun>();

  /** A reorganisation took back the channel's messages from `fromSeq` on: the run continues from the head before them. */
  retract(r: RetractionEvent): void {
    if (r.fromSeq === null) return;
    this.runs.get(`${r.chainId}:${r.registry.toLowerCase()}:${r.channel}`)?.rewind(BigInt(r.fromSeq), r.headBefore);
  }

  /** Checks the next event of its channel and advances that channel's run. */
  check(value: unknown): CheckOutcome {
    const problem = messageEventProblem(value);
    if (problem !== null) {
      const v = (value ?? {}) as Record<string, unknown>;
      const malformed: ChainBreak = {
        kind: "KAFKA_MALFORMED",
        channel: String(v.channel ?? "?"),
        channelName: String(v.channelName ?? v.channel ?? "?"),
        seq: typeof v.seq === "string" ? v.seq : null,
        message: problem,
        event: value,
      };
      return { status: "broken", break: malformed, breaks: [malformed] };
    }
    const e = value as MessageEvent;
    const registry = registryOf(e);
    const message = signedMessageOf(e);
    const digest = digestOf(registry, message);
    // libsecp256k1 where it loads: recoverAuthor (ethers) held tail to about 500 messages a second.
    const recovered = recoverHex(fastestRecovery(), digest, message.signature);
    const key = streamKey(e);
    let run = this.runs.get(key);
    if (!run) this.runs.set(key, (run = new ChannelRun({ joinMidStream: true })));
    const step = run.step({
      seq: BigInt(e.seq),
      digest,
      claimedDigest: e.digest,
      head: e.head,
      signed: recovered !== null && recovered === e.author.toLowerCase(),
    });

    if (step.status === "broken") {
      // Checksummed in what a person reads, as the author is.
      const signer = recovered === null ? null : getAddress(recovered);
      const breaks = step.findings.map((f): ChainBreak => ({
        kind: f.kind,
        channel: e.channel,
        channelName: e.channelName,
        seq: e.seq,
        message: sentence(e, f, signer),
        expected: f.kind === "BAD_SIGNATURE" ? e.author : f.expected,
        actual: f.kind === "BAD_SIGNATURE" ? (signer ?? "invalid") : f.actual,
        event: e,
      }));
      return { status: "broken", event: e, break: breaks[0], breaks };
    }
    if (step.status === "redelivered") {
      return { status: "redelivered", event: e, note: `Message ${e.seq} of ${e.channelName} was delivered again (same digest and head); ignored.` };
    }
    if (step.status === "joined") {
      return {
        status: "ok",
        event: e,
        note: `Joined ${e.channelName} mid-stream at seq ${e.seq}: trusting its head ${e.head} as the starting point; messages from here on are checked against it.`,
      };
    }
    return { status: "ok", event: e };
  }
}
