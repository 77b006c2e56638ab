/**
 * The audit's vocabulary: discrepancy kinds (the protocol's DISCREPANCY_KINDS: stable,
 * machine-readable names that scripts may match on), warnings, the per-message record,
 * and the report.
 */
import { channelName, DISCREPANCY_KINDS, type DiscrepancyKind } from "@chainmail/protocol";

// The discrepancy vocabulary is the protocol's, shared with tail: one name, one sentence each.
export { DISCREPANCY_KINDS, type DiscrepancyKind };

/** Findings that do not prove tampering but that the audit could not check itself. */
export const WARNING_KINDS = {
  HEADER_UNANCHORED:
    "The audited block's header comes from the one endpoint that also gave the logs: the proofs hold against it, but nothing outside that endpoint vouches for it. Give --checkpoint BLOCK:HASH or several --rpc-url.",
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
  /** The audited block, what its header is trusted through, and whether the registry's state was proven against it. */
  proof?: { block: number; hash: string; stateRoot: string; trusted: string; proven: boolean };
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
