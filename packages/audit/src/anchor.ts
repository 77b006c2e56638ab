/**
 * The chain proven, not trusted: the audited block's header is anchored outside the one
 * endpoint (a checkpoint the auditor gives, and/or several endpoints that must agree),
 * checked against its own hash, and the registry's stored state (channel list, each
 * channel's seq and head) is proven with eth_getProof against the header's state root.
 * A proven head commits to every digest in order, so the logs cannot drop, add, alter or
 * reorder a message without the audit seeing it, whatever the endpoint says.
 */
import {
  checkHeader,
  ProofError,
  toQuantity,
  verifyAccountStorage,
  type JsonRpcCaller,
  type RawAccountProof,
  type RawHeader,
} from "@chainmail/chain";
import { CHANNEL_COUNT_SLOT, channelIdSlot, channelName, channelSlots, channelStateOf } from "@chainmail/protocol";
import type { ChannelState } from "./log-source.js";
import type { Discrepancy } from "./types.js";

export interface Checkpoint {
  block: number;
  hash: string;
}

/** Parses `BLOCK:HASH` (decimal block number, 32-byte hex hash); throws a sentence otherwise. */
export function parseCheckpoint(text: string): Checkpoint {
  const match = /^(\d+):(0x[0-9a-fA-F]{64})$/.exec(text.trim());
  if (!match) throw new Error(`"${text}" is not a checkpoint: give BLOCK:HASH, such as 1234:0x…(64 hex digits).`);
  return { block: Number(match[1]), hash: match[2].toLowerCase() };
}

export interface Endpoint {
  url: string;
  rpc: JsonRpcCaller;
}

const headerOf = (e: Endpoint, block: number) => e.rpc.call<RawHeader | null>("eth_getBlockByNumber", [toQuantity(block), false]);
const proofOf = (e: Endpoint, registry: string, slots: string[], block: number) =>
  e.rpc.call<RawAccountProof>("eth_getProof", [registry, slots, toQuantity(block)]);

/** What the audit trusts for the header, in the report's words. */
export interface Trust {
  kind: "checkpoint" | "endpoints" | "endpoint";
  detail: string;
}

export interface Anchor {
  block: number;
  /** The audited block's header (the primary endpoint's, checked against its hash). */
  header: RawHeader;
  trust: Trust;
  /** The storage slots proven, and the primary endpoint's eth_getProof answer (kept for evidence bundles). */
  slots: string[];
  proof?: RawAccountProof;
  /** Proven channel ids (in the registry's order) and states; undefined when the proof did not verify. */
  channels?: string[];
  states?: Map<string, ChannelState>;
  findings: Discrepancy[];
}

/** The slots that hold the channel list and every listed channel's state. */
export function registrySlots(channels: readonly string[]): string[] {
  const slots = [CHANNEL_COUNT_SLOT];
  channels.forEach((c, i) => {
    const s = channelSlots(c);
    slots.push(channelIdSlot(i), s.head, s.state);
  });
  return slots;
}

/**
 * Reads and checks the header of `block` from every endpoint, then proves the registry's
 * state at it from the first endpoint. Disagreements, a checkpoint that does not match
 * and proofs that do not verify are findings (the audit reports them and exits 1);
 * endpoints that cannot be reached are errors.
 */
export async function anchorRegistry(endpoints: Endpoint[], registry: string, block: number, checkpoint?: Checkpoint, prove = true): Promise<Anchor> {
  const findings: Discrepancy[] = [];
  const headers: Array<{ url: string; header: RawHeader; valid: boolean }> = [];
  for (const e of endpoints) {
    const header = await headerOf(e, block);
    if (!header) throw new ProofError("HeaderUnavailable", `${e.url} has no block ${block}.`);
    let valid = true;
    try {
      checkHeader(header);
      if (Number(header.number) !== block) throw new ProofError("HeaderMalformed", `${e.url} answered block ${Number(header.number)} when asked for block ${block}.`);
    } catch (error) {
      if (!(error instanceof ProofError)) throw error;
      valid = false;
      findings.push({ kind: "HEADER_INVALID", blockNumber: block, detail: `${e.url}: ${error.message}` });
    }
    headers.push({ url: e.url, header, valid });
  }
  const primary = headers[0];
  const hashes = new Map<string, string[]>();
  for (const h of headers) hashes.set(h.header.hash.toLowerCase(), [...(hashes.get(h.header.hash.toLowerCase()) ?? []), h.url]);
  if (hashes.size > 1) {
    const sides = [...hashes].map(([hash, urls]) => `${urls.join(", ")} say ${hash}`).join("; ");
    findings.push({ kind: "ENDPOINTS_DISAGREE", blockNumber: block, detail: `The endpoints disagree on block ${block}: ${sides}.` });
  }
  let trust: Trust;
  if (checkpoint) {
    if (checkpoint.block !== block) throw new Error(`The checkpoint is for block ${checkpoint.block}, but the audit is of block ${block}.`);
    for (const h of headers) {
      if (h.header.hash.toLowerCase() !== checkpoint.hash) {
        findings.push({
          kind: "CHECKPOINT_MISMATCH",
          blockNumber: block,
          detail: `${h.url} gives block ${block} the hash ${h.header.hash}, but the checkpoint says ${checkpoint.hash}.`,
          expected: checkpoint.hash,
          actual: h.header.hash,
        });
      }
    }
    trust = { kind: "checkpoint", detail: `the checkpoint ${block}:${checkpoint.hash} given by the auditor` };
  } else if (endpoints.length > 1) {
    trust = { kind: "endpoints", detail: `${endpoints.length} endpoints agreeing on block ${block} (${endpoints.map((e) => e.url).join(", ")})` };
  } else {
    trust = { kind: "endpoint", detail: `the one endpoint ${endpoints[0].url} (give --checkpoint or more --rpc-url to trust the header from elsewhere)` };
  }

  const anchor: Anchor = { block, header: primary.header, trust, slots: [], findings };
  if (!primary.valid || !prove) return anchor;
  const stateRoot = primary.header.stateRoot;
  try {
    // The channel count first, then the list and every channel's two words in one request.
    const countProof = await proofOf(endpoints[0], registry, [CHANNEL_COUNT_SLOT], block);
    const count = Number(BigInt(verifyAccountStorage(stateRoot, registry, countProof, [CHANNEL_COUNT_SLOT]).slots.get(CHANNEL_COUNT_SLOT)!));
    if (!Number.isSafeInteger(count) || count > 1_000_000) throw new ProofError("ProofValueMismatch", `The proven channel count ${count} is not plausible.`);
    const idSlots = Array.from({ length: count }, (_, i) => channelIdSlot(i));
    const idsProof = await proofOf(endpoints[0], registry, [CHANNEL_COUNT_SLOT, ...idSlots], block);
    const ids = verifyAccountStorage(stateRoot, registry, idsProof, idSlots);
    const channels = idSlots.map((s) => ids.slots.get(s)!);
    const slots = registrySlots(channels);
    const proof = await proofOf(endpoints[0], registry, slots, block);
    const proven = verifyAccountStorage(stateRoot, registry, proof, slots);
    const states = new Map<string, ChannelState>();
    for (const c of channels) {
      const s = channelSlots(c);
      states.set(c, channelStateOf(proven.slots.get(s.head)!, proven.slots.get(s.state)!));
    }
    Object.assign(anchor, { slots, proof, channels, states });
  } catch (error) {
    if (!(error instanceof ProofError)) throw error;
    findings.push({ kind: "PROOF_INVALID", blockNumber: block, detail: `${endpoints[0].url}, registry ${registry} at block ${block}: ${error.message}` });
  }
  return anchor;
}

/** Compares what the endpoint answered (eth_call) with what the proofs prove; one finding per difference. */
export function stateMismatches(anchor: Anchor, listed: string[], states: Map<string, ChannelState>): Discrepancy[] {
  if (!anchor.channels || !anchor.states) return [];
  const findings: Discrepancy[] = [];
  const proven = anchor.channels;
  if (proven.join() !== listed.join()) {
    findings.push({
      kind: "STATE_MISMATCH",
      detail: `channels(offset, limit) answered ${listed.length} channels (${listed.map(channelName).join(", ")}), the proof proves ${proven.length} (${proven.map(channelName).join(", ")}).`,
    });
  }
  for (const [c, s] of states) {
    const p = anchor.states.get(c);
    if (!p) continue;
    if (p.seq !== s.seq || p.head !== s.head.toLowerCase() || p.exists !== s.exists || p.open !== s.open) {
      findings.push({
        kind: "STATE_MISMATCH",
        channel: c,
        channelName: channelName(c),
        detail: `channelInfo(${channelName(c)}) answered seq ${s.seq} head ${s.head}, the proof proves seq ${p.seq} head ${p.head}.`,
        expected: `${p.seq}:${p.head}`,
        actual: `${s.seq}:${s.head}`,
      });
    }
  }
  return findings;
}
