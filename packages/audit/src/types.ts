/**
 * The audit's vocabulary: discrepancy kinds (stable, machine-readable names that
 * scripts may match on), the per-message record, and the report.
 */
import { channelName } from "@chainmail/protocol";

/** Every kind of discrepancy the audit can report, with the sentence a person reads. */
export const DISCREPANCY_KINDS = {
  MALFORMED_LOG: "A MessagePosted log from the registry cannot be decoded as one.",
  UNLISTED_CHANNEL: "A message was posted to a channel the registry does not list.",
  SEQ_GAP: "Sequence numbers are missing: the log does not hold every message the channel sealed.",
  SEQ_DUPLICATE: "A sequence number appears more than once in the channel.",
  SEQ_ORDER: "A message appears in the log after a message with a higher sequence number.",
  BODY_ALTERED:
    "The message's content is not what was sealed: its recomputed digest matches neither the author's signature nor the channel's head chain.",
  HEAD_MISMATCH:
    "The head in the event is not keccak256(previous head, digest, seq) recomputed from the log: the message is not the one sealed at this position.",
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
} as const;
export type DiscrepancyKind = keyof typeof DISCREPANCY_KINDS;

/** Findings that do not prove tampering but that the audit could not check itself. */
export const WARNING_KINDS = {
  CONTRACT_WALLET_UNVERIFIED:
    "The author is a contract wallet (EIP-1271) and the node could not answer isValidSignature at that block: verified on-chain only.",
} as const;
export type WarningKind = keyof typeof WARNING_KINDS;

export interface Finding<K extends string = DiscrepancyKind> {
  kind: K;
  channel?: string;
  channelName?: string;
  seq?: string;
  blockNumber?: number;
  transactionHash?: string;
  logIndex?: number;
  /** What the audit saw, in one sentence with the numbers. */
  detail: string;
  expected?: string;
  actual?: string;
}
export type Discrepancy = Finding<DiscrepancyKind>;
export type Warning = Finding<WarningKind>;

/** How one message's signature was accepted. */
export type SignatureCheck = "ecdsa" | "eip1271" | "eip1271-unverified" | "invalid";

/** One verified message: what the export writes, one row each. */
export interface AuditedMessage {
  channel: string;
  seq: bigint;
  author: string;
  digest: string;
  head: string;
  blockNumber: number;
  transactionHash: string;
  logIndex: number;
  /** Lowercase address recovered from the signature, or null when the signature is refused. */
  recovered: string | null;
  signature: SignatureCheck;
  /** Discrepancy kinds found at this message (empty when it verified). */
  problems: DiscrepancyKind[];
}

export interface ChannelReport {
  channel: string;
  name: string;
  messages: number;
  lastSeq: string;
  storedSeq: string;
  storedHead: string;
  /** Head recomputed from GENESIS_HEAD through every message; null when a gap makes that impossible. */
  recomputedHead: string | null;
  ok: boolean;
}

export interface KafkaReport {
  brokers: string[];
  topic: string;
  records: number;
  messageEvents: number;
  /** Chain messages in the last `confirmations` blocks, not yet expected in Kafka. */
  pending: number;
  ok: boolean;
}

export interface AuditReport {
  ok: boolean;
  registry: { chainId: string; address: string };
  fromBlock: number;
  toBlock: number;
  channels: ChannelReport[];
  totals: {
    channels: number;
    messages: number;
    discrepancies: number;
    warnings: number;
    byKind: Partial<Record<DiscrepancyKind | WarningKind, number>>;
  };
  discrepancies: Discrepancy[];
  warnings: Warning[];
  kafka?: KafkaReport;
  recovery: string;
  timingsMs: Record<string, number>;
}

/** Where a message sits, as every discrepancy names it. */
export function position(m: { channel: string; seq: bigint; blockNumber: number; transactionHash: string; logIndex: number }) {
  return {
    channel: m.channel,
    channelName: channelName(m.channel),
    seq: m.seq.toString(),
    blockNumber: m.blockNumber,
    transactionHash: m.transactionHash,
    logIndex: m.logIndex,
  };
}
