/**
 * The one chain verifier: the rules that check a run of messages of one channel, and
 * the one vocabulary for what they find. `tail` checks Kafka events with them as they
 * arrive, the audit checks the chain's logs and Kafka's copies, the relayer's tests
 * check what they posted.
 *
 * The rules judge facts, not raw messages: each caller computes the costly parts its
 * own fastest way (the audit decodes digests from log words and recovers signatures on
 * worker threads with libsecp256k1; tail uses digestOf and recoverAuthor) and hands the
 * results in.
 */
import { nextHead } from "./digest.js";
import { GENESIS_HEAD } from "./messages.js";

/** Every discrepancy a verifier can report: a stable name scripts may match on, and the sentence a person reads. */
export const DISCREPANCY_KINDS = {
  MALFORMED_LOG: "A MessagePosted log from the registry cannot be decoded as one.",
  UNLISTED_CHANNEL: "A message was posted to a channel the registry does not list.",
  SEQ_GAP: "Sequence numbers are missing: the record (the log, or the stream read from Kafka) does not hold every message the channel sealed.",
  SEQ_DUPLICATE: "A sequence number appears more than once in the channel, with different messages.",
  SEQ_ORDER: "A message comes after a message with a higher sequence number.",
  BODY_ALTERED:
    "The message's content is not what was sealed: the digest recomputed from its fields differs from the one its record carries, or matches neither the author's signature nor the channel's head chain.",
  HEAD_MISMATCH:
    "The head in the event is not keccak256(previous head, digest, seq) recomputed from the record: the message is not the one sealed at this position.",
  BAD_SIGNATURE: "The signature does not recover to the message's author (and no EIP-1271 wallet accepted it).",
  AUTHOR_NOT_MEMBER: "The author was not a member of the channel when the message was posted (from the RoleGranted/RoleRevoked history).",
  STORED_HEAD_MISMATCH: "The channel's last head recomputed from the log differs from the head stored in the contract.",
  STORED_SEQ_MISMATCH: "The log holds messages beyond the last sequence number stored in the contract.",
  KAFKA_MISSING: "A message on the chain is not in Kafka.",
  KAFKA_DUPLICATE: "Kafka holds the same message (channel and seq) more than once.",
  KAFKA_MISMATCH: "Kafka's copy of a message differs from the chain (digest, head or position).",
  KAFKA_ORDER: "Kafka holds a channel's messages out of seq order.",
  KAFKA_UNEXPECTED: "Kafka holds a message the chain does not have.",
  KAFKA_MALFORMED: "A record in the Kafka topic is not a readable ChainMail message event.",
  KAFKA_FOREIGN:
    "Kafka holds a record that is not this registry's: another chain id or registry address, another schema value, or a channel the registry does not list.",
  LOG_FOREIGN: "A log the node returned was not emitted by the registry (another address), or is flagged as removed by a reorganisation.",
  LOG_BLOCK_HASH: "A log's block hash is not the hash of the chain's block at that height.",
  SIGNATURE_UNCHECKED:
    "The signature does not recover to the author, and the author's contract wallet (EIP-1271) could not be asked: the message is not verified.",
  ENDPOINTS_DISAGREE: "The JSON-RPC endpoints given to the audit answer with different headers for the same block.",
  CHECKPOINT_MISMATCH: "The audited block's header does not hash to the checkpoint the auditor gave.",
  HEADER_INVALID: "A block header's fields do not hash to the hash the endpoint claims for it.",
  PROOF_INVALID: "The registry's stored state (channel list, seq, head) does not verify by eth_getProof against the block header's state root.",
  STATE_MISMATCH: "The endpoint's answer for the registry's state (channelCount, channels(offset, limit), channelInfo) differs from what the storage proof proves.",
} as const;
export type DiscrepancyKind = keyof typeof DISCREPANCY_KINDS;

/** How `seq` follows the previous seq of its channel. */
export type SeqStep = "next" | "gap" | "repeat" | "behind";

export function seqStep(previousSeq: bigint, seq: bigint): SeqStep {
  if (seq === previousSeq + 1n) return "next";
  if (seq > previousSeq) return "gap";
  return seq === previousSeq ? "repeat" : "behind";
}

/** head = nextHead(previousHead, digest, seq): the message is the one sealed after `previousHead`. */
export function headLinks(previousHead: string, digest: string, seq: bigint, head: string): boolean {
  return nextHead(previousHead, digest, seq) === head.toLowerCase();
}

/** What one message shows by itself and by its link to its predecessor. */
export interface MessageFacts {
  /** The digest recomputed from the message's own fields equals the one its record carries (a log carries none: true). */
  digestMatches: boolean;
  /** headLinks from the predecessor's head; undefined when there is none to link from (after a gap, or joining mid-stream). */
  linked: boolean | undefined;
  /** The signature recovers to the author over the recomputed digest (or the author's contract wallet accepted it). */
  signed: boolean;
}

export type MessageDiscrepancy = Extract<DiscrepancyKind, "BODY_ALTERED" | "HEAD_MISMATCH" | "BAD_SIGNATURE">;

/**
 * The verdict on one message, or null when it is sound. Content that neither the
 * signature nor the head chain vouches for was altered; a broken link alone means the
 * message is not the one sealed here; a bad signature alone, that its author did not sign it.
 */
export function messageDiscrepancy(facts: MessageFacts): MessageDiscrepancy | null {
  if (!facts.digestMatches) return "BODY_ALTERED";
  if (facts.linked === false) return facts.signed ? "HEAD_MISMATCH" : "BODY_ALTERED";
  return facts.signed ? null : "BAD_SIGNATURE";
}

/** One message of a run, as the caller computed it. */
export interface RunMessage {
  seq: bigint;
  /** The digest recomputed from the message's own fields. */
  digest: string;
  /** The digest the record carries, when it carries one (a Kafka event does; a log does not). */
  claimedDigest?: string;
  head: string;
  /** See MessageFacts.signed. */
  signed: boolean;
  /** The link already checked (by an audit worker) from the predecessor head `from`; used when that is the head the run follows. */
  checkedLink?: { from: string; ok: boolean };
}

export interface RunFinding {
  kind: DiscrepancyKind;
  expected?: string;
  actual?: string;
}

export interface RunStep {
  /** "joined": the first message of a run that may start mid-stream, trusted as the starting point; "redelivered": the previous message again, unchanged. */
  status: "ok" | "joined" | "redelivered" | "broken";
  findings: RunFinding[];
  /** Whether the head linked from the predecessor (undefined when it could not be checked). */
  linked: boolean | undefined;
  /** The seq the run expected, when this one was not it. */
  expectedSeq?: bigint;
}

/**
 * A run of messages of one channel, checked one message at a time in the order they
 * are read: seq continuity, digest, head chain and signature. After a finding the run
 * goes on from the message's own seq and head, so one forgery is reported where it is;
 * a repeated or older seq does not move the run.
 */
export class ChannelRun {
  private last: { seq: bigint; head: string; digest: string } | undefined;

  /** `joinMidStream`: a first message after seq 1 starts the run (a subscriber that joins late); otherwise the run starts at the genesis head. */
  constructor(private readonly options: { joinMidStream?: boolean } = {}) {}

  /** The last message's head the run follows (GENESIS_HEAD before the first). */
  get head(): string {
    return this.last?.head ?? GENESIS_HEAD;
  }

  /**
   * Takes back every message from `fromSeq` on (a chain reorganisation retracted them):
   * the run continues from `headBefore`, the head just before `fromSeq`; without it the
   * run starts again as a late joiner would.
   */
  rewind(fromSeq: bigint, headBefore: string | null): void {
    if (this.last && this.last.seq < fromSeq) return; // nothing of ours is retracted
    this.last = headBefore !== null && fromSeq >= 1n ? { seq: fromSeq - 1n, head: headBefore.toLowerCase(), digest: "" } : undefined;
  }

  step(m: RunMessage): RunStep {
    const digest = m.digest.toLowerCase();
    const head = m.head.toLowerCase();
    const digestMatches = m.claimedDigest === undefined || m.claimedDigest.toLowerCase() === digest;
    const findings: RunFinding[] = [];
    const altered = () => findings.push({ kind: "BODY_ALTERED", expected: digest, actual: m.claimedDigest?.toLowerCase() });
    const previous = this.last ?? (m.seq === 1n || !this.options.joinMidStream ? { seq: 0n, head: GENESIS_HEAD, digest: "" } : undefined);

    let linked: boolean | undefined;
    let expectedSeq: bigint | undefined;
    if (previous) {
      const step = seqStep(previous.seq, m.seq);
      if (step === "repeat" || step === "behind") {
        if (!digestMatches) altered();
        else if (step === "repeat" && digest === previous.digest && head === previous.head) return { status: "redelivered", findings, linked: undefined };
        else if (step === "repeat") findings.push({ kind: "SEQ_DUPLICATE", expected: previous.digest, actual: digest });
        if (step === "behind") findings.push({ kind: "SEQ_ORDER", expected: `${previous.seq + 1n}`, actual: `${m.seq}` });
        return { status: "broken", findings, linked: undefined, expectedSeq: previous.seq + 1n };
      }
      if (step === "gap") {
        expectedSeq = previous.seq + 1n;
        findings.push({ kind: "SEQ_GAP", expected: `${expectedSeq}`, actual: `${m.seq}` });
      } else {
        linked = m.checkedLink && m.checkedLink.from === previous.head ? m.checkedLink.ok : headLinks(previous.head, digest, m.seq, head);
      }
    }
    const verdict = messageDiscrepancy({ digestMatches, linked, signed: m.signed });
    if (verdict === "BODY_ALTERED") altered();
    else if (verdict === "HEAD_MISMATCH") findings.push({ kind: verdict, expected: nextHead(previous!.head, digest, m.seq), actual: head });
    else if (verdict === "BAD_SIGNATURE") findings.push({ kind: verdict });
    this.last = { seq: m.seq, head, digest };
    return { status: findings.length > 0 ? "broken" : previous ? "ok" : "joined", findings, linked, expectedSeq };
  }
}
