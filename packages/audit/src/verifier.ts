/**
 * The audit itself: rebuilds every channel (or the ones asked for) from `MessagePosted`
 * logs and checks the record against the contract's stored state, the authors'
 * signatures and the membership history, and optionally against Kafka. It reads only
 * through an AuditLogSource, so forged histories can be fed to it in tests.
 */
import { getAddress } from "ethers";
import { ChannelRun, channelName, GENESIS_HEAD, memberRoleOf, nextHead } from "@chainmail/protocol";
import { stateMismatches, type Anchor } from "./anchor.js";
import { compareWithKafka, type KafkaEventReader } from "./kafka.js";
import type { AuditLogSource, ChannelState, RawLog } from "./log-source.js";
import { MembershipHistory } from "./membership.js";
import { createPreparer, type PreparedMessage, type Preparer } from "./prepare.js";
import { defaultRecoveryBackend, recoveryBackend, type RecoveryBackendName } from "@chainmail/protocol/signatures";
import {
  position,
  DISCREPANCY_KINDS,
  type AuditedMessage,
  type AuditReport,
  type ChannelReport,
  type Discrepancy,
  type DiscrepancyKind,
  type Warning,
} from "./types.js";
import { ChainMailError } from "@chainmail/protocol";

export interface AuditOptions {
  /** Channel ids to audit; default every channel the registry lists. */
  channels?: string[];
  /** secp256k1 implementation; default the fastest available (native libsecp256k1, else noble). */
  recovery?: RecoveryBackendName;
  /** Worker threads for decoding and signature recovery; 0 = in-process. Default: one per core. */
  workers?: number;
  /** Use this preparer instead of creating one (the benchmark reuses a warm pool). */
  preparer?: Preparer;
  /** Compare with the mirror's Kafka topic. */
  kafka?: KafkaEventReader;
  /** Messages in the last N blocks of the snapshot are not yet expected in Kafka. */
  kafkaConfirmations?: number;
  /** Called after every batch with the number of messages read so far. */
  onProgress?: (messages: number) => void;
  /** Keep the raw logs read (the evidence bundle needs them). */
  keepLogs?: boolean;
}

export interface AuditResult {
  report: AuditReport;
  /** Every message, in channel then seq order, with what was found at it. */
  messages: AuditedMessage[];
  /** The anchored header and proofs, when the source proves. */
  anchor?: Anchor;
  /** With keepLogs: the registry's MessagePosted and role logs that were audited. */
  logs?: { messages: RawLog[]; roles: RawLog[] };
}

/** A channel named by the caller that the registry does not have. */
export class UnknownChannelError extends ChainMailError {
  override name = "UnknownChannelError";
  constructor(message: string) {
    super("UnknownChannel", message);
  }
}

/** Batches in flight at once: keeps every worker busy while the source fetches more. */
const IN_FLIGHT = 8;

export async function audit(source: AuditLogSource, options: AuditOptions = {}): Promise<AuditResult> {
  const timings: Record<string, number> = { fetch: 0, decode: 0, recover: 0, prepareCpu: 0, sequence: 0, membership: 0, kafka: 0 };
  const started = performance.now();
  const registry = await source.location();
  const { fromBlock, toBlock } = await source.range();
  const discrepancies: Discrepancy[] = [];
  const warnings: Warning[] = [];
  // The endpoint's answers (eth_call), then, when the source proves, what the proofs say:
  // the proven list and states are the ones the audit goes by.
  let listed = await source.channels(toBlock);
  const answered = new Map<string, ChannelState>();
  for (const c of listed) answered.set(c, await source.channelInfo(c, toBlock));
  let t = performance.now();
  const anchor = source.anchor ? await source.anchor(toBlock) : undefined;
  timings.proofs = performance.now() - t;
  let states = answered;
  if (anchor) {
    discrepancies.push(...anchor.findings, ...stateMismatches(anchor, listed, answered));
    if (anchor.channels && anchor.states) {
      listed = anchor.channels;
      states = anchor.states;
    }
    if (anchor.trust.kind === "endpoint") {
      warnings.push({ kind: "HEADER_UNANCHORED", blockNumber: toBlock, detail: `Block ${toBlock}'s header (hash ${anchor.header.hash}) is trusted from ${anchor.trust.detail}.` });
    }
  }
  const listedSet = new Set(listed);
  const selected = options.channels?.map((c) => c.toLowerCase()) ?? listed;
  for (const c of selected) {
    if (!listedSet.has(c)) throw new UnknownChannelError(`Channel "${channelName(c)}" does not exist on registry ${registry.address} (as of block ${toBlock}).`);
  }
  const registryAddress = registry.address.toLowerCase();
  const blockHashes = new Map<number, string>();
  const kept = options.keepLogs ? { messages: [] as RawLog[], roles: [] as RawLog[] } : undefined;
  /** The registry's own, current logs; others are discrepancies and are not used. */
  const genuine = (logs: RawLog[]): RawLog[] => {
    let out: RawLog[] | undefined;
    for (let i = 0; i < logs.length; i++) {
      const l = logs[i];
      let problem: string | undefined;
      if (typeof l.address !== "string" || l.address.toLowerCase() !== registryAddress) problem = `was emitted by ${l.address}, not by the registry ${registry.address}`;
      else if (l.removed === true) problem = "is flagged as removed (its block was reorganised away)";
      else {
        const known = blockHashes.get(l.blockNumber);
        const hash = typeof l.blockHash === "string" ? l.blockHash.toLowerCase() : "";
        if (known === undefined) blockHashes.set(l.blockNumber, hash);
        else if (known !== hash) problem = `carries block hash ${l.blockHash}, but other logs of block ${l.blockNumber} carry ${known}`;
      }
      if (problem) {
        out ??= logs.slice(0, i);
        discrepancies.push({
          kind: problem.includes("block hash") ? "LOG_BLOCK_HASH" : "LOG_FOREIGN",
          blockNumber: l.blockNumber,
          transactionHash: l.transactionHash,
          logIndex: l.index,
          detail: `Log ${l.index} of block ${l.blockNumber} (tx ${l.transactionHash}) ${problem}.`,
        });
      } else out?.push(l);
    }
    return out ?? logs;
  };

  // Membership history for the channels' member roles.
  t = performance.now();
  const membership = new MembershipHistory();
  for await (const batch of source.roleLogs({ fromBlock, toBlock, roles: selected.map(memberRoleOf) })) {
    const logs = genuine(batch);
    membership.add(logs);
    kept?.roles.push(...logs);
  }
  timings.fetch += performance.now() - t;

  // Decode and recover every MessagePosted log, keeping each channel's chain order.
  const backend = options.recovery ?? defaultRecoveryBackend();
  const preparer = options.preparer ?? (await createPreparer(registry, backend, options.workers ?? 0));
  const byChannel = new Map<string, PreparedMessage[]>(selected.map((c) => [c, []]));
  let read = 0;
  try {
    const pending: Array<Promise<Awaited<ReturnType<Preparer["prepare"]>>>> = [];
    const collect = async () => {
      const batch = await pending.shift()!;
      timings.decode += batch.timings.decodeMs;
      timings.recover += batch.timings.recoverMs;
      timings.prepareCpu += batch.timings.cpuMs;
      for (const item of batch.items) {
        if (!item.ok) {
          discrepancies.push({
            kind: "MALFORMED_LOG",
            channel: item.channel,
            channelName: item.channel && channelName(item.channel),
            blockNumber: item.blockNumber,
            transactionHash: item.transactionHash,
            logIndex: item.logIndex,
            detail: `Log ${item.logIndex} of block ${item.blockNumber}: ${item.error}`,
          });
          continue;
        }
        const list = byChannel.get(item.channel);
        if (list) list.push(item);
        else if (!options.channels) {
          discrepancies.push({
            kind: "UNLISTED_CHANNEL",
            ...position(item),
            detail: `Message seq ${item.seq} in block ${item.blockNumber} names channel ${item.channel}, which the registry does not list.`,
          });
        }
      }
      read += batch.items.length;
      options.onProgress?.(read);
    };
    t = performance.now();
    const iterator = source.messageLogs({ fromBlock, toBlock, channels: options.channels ? selected : undefined });
    for await (const batch of iterator) {
      timings.fetch += performance.now() - t;
      const logs = genuine(batch);
      if (kept) for (const l of logs) kept.messages.push(l);
      pending.push(preparer.prepare(sortedByPosition(logs)));
      while (pending.length >= IN_FLIGHT) await collect();
      t = performance.now();
    }
    while (pending.length > 0) await collect();
  } finally {
    if (!options.preparer) await preparer.close();
  }

  // Every block that holds a log used: its hash must be the chain's (a log of a block
  // reorganised away, or relabelled, is not part of the record).
  if (source.blockHash) {
    t = performance.now();
    const numbers = [...blockHashes.keys()];
    const answers = await Promise.all(numbers.map((n) => source.blockHash!(n)));
    numbers.forEach((n, i) => {
      const chain = answers[i];
      if (chain !== undefined && chain !== blockHashes.get(n)) {
        discrepancies.push({ kind: "LOG_BLOCK_HASH", blockNumber: n, detail: `Logs of block ${n} carry block hash ${blockHashes.get(n)}, but the chain's block ${n} is ${chain}.`, expected: chain, actual: blockHashes.get(n) });
      }
    });
    timings.blockHashes = performance.now() - t;
  }

  // Order-dependent checks, channel by channel.
  const messages: AuditedMessage[] = [];
  const channels: ChannelReport[] = [];
  for (const channel of selected) {
    const result = await verifyChannel(channel, byChannel.get(channel)!, states.get(channel)!, membership, source, timings);
    discrepancies.push(...result.discrepancies);
    warnings.push(...result.warnings);
    messages.push(...result.messages);
    channels.push(result.report);
  }

  let kafka;
  if (options.kafka) {
    t = performance.now();
    const pendingFrom = toBlock - (options.kafkaConfirmations ?? 0) + 1;
    const compared = await compareWithKafka(options.kafka, messages, {
      selected: new Set(selected),
      listed: listedSet,
      registry,
      blockHashes,
      pendingFromBlock: pendingFrom,
      recover: recoveryBackend(backend),
    });
    discrepancies.push(...compared.discrepancies);
    kafka = compared.report;
    timings.kafka += performance.now() - t;
  }

  const byKind: AuditReport["totals"]["byKind"] = {};
  for (const f of [...discrepancies, ...warnings]) byKind[f.kind] = (byKind[f.kind] ?? 0) + 1;
  timings.total = performance.now() - started;
  for (const key of Object.keys(timings)) timings[key] = Math.round(timings[key]);
  return {
    report: {
      ok: discrepancies.length === 0,
      registry: { chainId: registry.chainId.toString(), address: registry.address },
      fromBlock,
      toBlock,
      channels,
      totals: {
        channels: channels.length,
        messages: messages.length,
        discrepancies: discrepancies.length,
        warnings: warnings.length,
        byKind,
      },
      discrepancies,
      warnings,
      kafka,
      proof: anchor && {
        block: anchor.block,
        hash: anchor.header.hash.toLowerCase(),
        stateRoot: anchor.header.stateRoot.toLowerCase(),
        trusted: anchor.trust.detail,
        proven: anchor.states !== undefined,
      },
      recovery: preparer.description,
      timingsMs: timings,
    },
    messages,
    anchor,
    logs: kept,
  };
}

const checksums = new Map<string, string>();

/** Checksummed address for reports; authors repeat, so each is computed once. */
function checksummed(address: string): string {
  let value = checksums.get(address);
  if (!value) checksums.set(address, (value = getAddress(address)));
  return value;
}

function sortedByPosition(logs: RawLog[]): RawLog[] {
  // Sources should already give chain order; sorting makes the verifier independent of it.
  return logs.slice().sort((a, b) => a.blockNumber - b.blockNumber || a.index - b.index);
}


interface ChannelResult {
  report: ChannelReport;
  messages: AuditedMessage[];
  discrepancies: Discrepancy[];
  warnings: Warning[];
}

async function verifyChannel(
  channel: string,
  inChainOrder: PreparedMessage[],
  stored: ChannelState,
  membership: MembershipHistory,
  source: AuditLogSource,
  timings: Record<string, number>,
): Promise<ChannelResult> {
  const name = channelName(channel);
  const discrepancies: Discrepancy[] = [];
  const warnings: Warning[] = [];
  const audited = new Map<PreparedMessage, AuditedMessage>();
  for (const m of inChainOrder) m.author = checksummed(m.author);
  const flag = (m: PreparedMessage, kind: DiscrepancyKind, detail: string, extra: Partial<Discrepancy> = {}) => {
    discrepancies.push({ kind, ...position(m), detail, ...extra });
    audited.get(m)!.problems.push(kind);
  };
  const flagSignature = (m: PreparedMessage) => {
    const recovered = m.recovered ?? "no address (the signature is not a canonical ECDSA signature)";
    flag(m, "BAD_SIGNATURE", `Seq ${m.seq}: the signature recovers to ${recovered}, not to the author ${m.author}.`, {
      expected: m.author,
      actual: m.recovered ?? undefined,
    });
  };
  for (const m of inChainOrder) {
    audited.set(m, {
      channel,
      seq: m.seq,
      author: checksummed(m.author),
      digest: m.digest,
      head: m.head,
      blockNumber: m.blockNumber,
      transactionHash: m.transactionHash,
      logIndex: m.logIndex,
      recovered: m.recovered,
      signature: m.recovered === m.author.toLowerCase() ? "ecdsa" : "invalid",
      problems: [],
    });
  }

  let t = performance.now();
  // 1. Order in the log: every seq once, increasing.
  const seen = new Set<bigint>();
  let highest = 0n;
  for (const m of inChainOrder) {
    if (seen.has(m.seq)) {
      flag(m, "SEQ_DUPLICATE", `Seq ${m.seq} appears again in block ${m.blockNumber}, log ${m.logIndex}.`);
    } else if (m.seq < highest) {
      flag(m, "SEQ_ORDER", `Seq ${m.seq} comes after seq ${highest} in the log (block ${m.blockNumber}, log ${m.logIndex}).`);
    }
    seen.add(m.seq);
    if (m.seq > highest) highest = m.seq;
  }
  timings.sequence += performance.now() - t;

  // 2. Signatures the workers could not recover to the author: a contract wallet (EIP-1271) may still have signed.
  const bySeq = inChainOrder.slice().sort((a, b) => (a.seq < b.seq ? -1 : a.seq > b.seq ? 1 : 0));
  for (const m of bySeq) {
    const record = audited.get(m)!;
    if (record.signature !== "invalid") continue;
    const answer = await source.contractSignature(m.author, m.digest, m.signature!, m.blockNumber);
    if (answer === "valid") record.signature = "eip1271";
    else if (answer === "unavailable") {
      // Not verified, so never counted as verified: the ECDSA signature is not the
      // author's, and whether the author is a wallet that accepts it could not be asked.
      record.signature = "eip1271-unverified";
      flag(m, "SIGNATURE_UNCHECKED", `Seq ${m.seq}: the signature recovers to ${m.recovered ?? "no address"}, not to ${m.author}, and the node could not say whether ${m.author} is a contract wallet that accepts it (eth_getCode / isValidSignature at block ${m.blockNumber} failed).`);
    }
  }

  // 3. The run in seq order, by the protocol's rules: continuity, the head chain (links the
  // workers already checked are reused) and each message's verdict. After a failed link
  // the run goes on from the logged head, so one forgery is reported once, where it is.
  t = performance.now();
  const run = new ChannelRun();
  let recomputed: string | null = GENESIS_HEAD;
  let allLinked = true;
  let previousSeq = 0n;
  for (const m of bySeq) {
    const record = audited.get(m)!;
    // An unchecked signature (named SIGNATURE_UNCHECKED above) vouches for nothing: with a
    // broken link the content is altered; with a sound one it is not named twice.
    const unchecked = record.signature === "eip1271-unverified";
    const signed = record.signature === "ecdsa" || record.signature === "eip1271";
    if (m.seq === previousSeq) {
      // A duplicate, reported above; it has no link of its own, only its signature.
      if (!signed && !unchecked) flagSignature(m);
      continue;
    }
    previousSeq = m.seq;
    const step = run.step({ seq: m.seq, digest: m.digest, head: m.head, signed, checkedLink: m.link });
    if (step.linked === false) allLinked = false;
    for (const finding of step.findings) {
      if (finding.kind === "SEQ_GAP") {
        const missing = m.seq - step.expectedSeq! === 1n ? `seq ${step.expectedSeq} is` : `seqs ${step.expectedSeq}..${m.seq - 1n} are`;
        flag(m, "SEQ_GAP", `In channel ${name}, ${missing} missing before seq ${m.seq}.`);
        recomputed = null;
      } else if (finding.kind === "BODY_ALTERED") {
        const recovered = m.recovered ?? "no address (the signature is not a canonical ECDSA signature)";
        flag(m, "BODY_ALTERED", `Seq ${m.seq}: the content recomputes to digest ${m.digest}, which is neither what ${m.author} signed (the signature recovers to ${recovered}) nor what the head chain sealed.`, {
          expected: m.author,
          actual: m.recovered ?? undefined,
        });
      } else if (finding.kind === "HEAD_MISMATCH") {
        flag(m, "HEAD_MISMATCH", `Seq ${m.seq}: the event's head ${m.head} is not keccak256(previous head, digest, seq).`, { actual: m.head });
      } else if (finding.kind === "BAD_SIGNATURE") {
        if (!unchecked) flagSignature(m);
      }
    }
  }
  // When every link held, the chain recomputed from GENESIS_HEAD is the logged one; only
  // after a failed link does the full recomputation differ (and cost a second pass).
  if (recomputed !== null) {
    if (allLinked) recomputed = run.head;
    else {
      let previous = 0n;
      for (const m of bySeq) {
        if (m.seq === previous) continue;
        previous = m.seq;
        recomputed = nextHead(recomputed!, m.digest, m.seq);
      }
    }
  }
  timings.sequence += performance.now() - t;

  // 4. Membership at the moment of posting.
  t = performance.now();
  const role = memberRoleOf(channel);
  for (const m of bySeq) {
    if (!membership.hadRole(role, m.author, m.blockNumber, m.logIndex)) {
      flag(m, "AUTHOR_NOT_MEMBER", `Seq ${m.seq}: ${m.author} was not a member of ${name} at block ${m.blockNumber}, log ${m.logIndex}.`);
    }
  }
  timings.membership += performance.now() - t;

  // 5. The log against the contract's stored seq and head.
  const last = bySeq[bySeq.length - 1];
  const lastSeq = last?.seq ?? 0n;
  const lastHead = last ? last.head.toLowerCase() : GENESIS_HEAD;
  const storedHead = stored.head.toLowerCase();
  const channelProblem = (kind: DiscrepancyKind, detail: string, expected: string, actual: string) =>
    discrepancies.push({ kind, channel, channelName: name, detail, expected, actual });
  if (stored.seq > lastSeq) {
    const missing = stored.seq - lastSeq === 1n ? `seq ${stored.seq} is` : `seqs ${lastSeq + 1n}..${stored.seq} are`;
    channelProblem("SEQ_GAP", `In channel ${name}, the contract stores seq ${stored.seq} but ${missing} missing from the log.`, stored.seq.toString(), lastSeq.toString());
  } else if (stored.seq < lastSeq) {
    channelProblem("STORED_SEQ_MISMATCH", `In channel ${name}, the log reaches seq ${lastSeq} but the contract stores seq ${stored.seq}.`, stored.seq.toString(), lastSeq.toString());
  } else if (storedHead !== lastHead) {
    channelProblem("STORED_HEAD_MISMATCH", `In channel ${name}, the last head in the log is ${lastHead} but the contract stores ${storedHead}.`, storedHead, lastHead);
  }

  const messages = bySeq.map((m) => audited.get(m)!);
  return {
    report: {
      channel,
      name,
      messages: messages.length,
      lastSeq: lastSeq.toString(),
      storedSeq: stored.seq.toString(),
      storedHead,
      recomputedHead: recomputed,
      ok: discrepancies.length === 0,
    },
    messages,
    discrepancies,
    warnings,
  };
}

export { DISCREPANCY_KINDS };
