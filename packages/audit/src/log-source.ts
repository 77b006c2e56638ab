/**
 * Where the audit reads the record from. The verifier depends only on this interface,
 * so tests can hand it forged logs and the benchmark synthetic ones; the real source is
 * `ChainLogSource` (JSON-RPC).
 */
import type { RegistryLocation } from "@chainmail/protocol";
import type { RawLog } from "@chainmail/chain";
import type { Anchor } from "./anchor.js";

export type { RawLog };

export interface ChannelState {
  exists: boolean;
  open: boolean;
  seq: bigint;
  head: string;
}

export type ContractSignatureResult = "valid" | "invalid" | "not-contract" | "unavailable";

export interface BlockRange {
  fromBlock: number;
  toBlock: number;
}

export interface AuditLogSource {
  /** The registry's EIP-712 location: chain id and address. */
  location(): Promise<RegistryLocation & { chainId: bigint }>;
  /** The registry's deployment block (where reading starts) and the block to audit up to. */
  range(): Promise<BlockRange>;
  /** Channel ids the registry lists, as of `atBlock`. */
  channels(atBlock: number): Promise<string[]>;
  /** `channelInfo(channel)` as of `atBlock`. */
  channelInfo(channel: string, atBlock: number): Promise<ChannelState>;
  /** `MessagePosted` logs in chain order (block, then log index), in batches. */
  messageLogs(range: BlockRange & { channels?: string[] }): AsyncIterable<RawLog[]>;
  /** `RoleGranted`/`RoleRevoked` logs for `roles`, in chain order. */
  roleLogs(range: BlockRange & { roles: string[] }): AsyncIterable<RawLog[]>;
  /** EIP-1271: asks `author` whether `signature` is valid for `digest`, as of `atBlock`. */
  contractSignature(author: string, digest: string, signature: string, atBlock: number): Promise<ContractSignatureResult>;
  /** The chain's hash of block `n` (to check the logs' blockHash); undefined when the source does not know it. */
  blockHash?(n: number): Promise<string | undefined>;
  /** The audited block's header, anchored and checked, and the registry's state proven against it (see anchor.ts). */
  anchor?(atBlock: number): Promise<Anchor>;
  close?(): Promise<void>;
}

/**
 * A source held in memory: a recording of a real chain (tests tamper with it to forge
 * histories) or synthetic logs (the benchmark).
 */
export class MemoryLogSource implements AuditLogSource {
  constructor(
    public registry: RegistryLocation & { chainId: bigint },
    public blocks: BlockRange,
    public messages: RawLog[],
    public roles: RawLog[],
    public states: Map<string, ChannelState>,
    public batchSize = 2000,
    /** Contract wallets' answers, by lowercase author address. */
    public wallets: Map<string, ContractSignatureResult> = new Map(),
    /** The chain's block hashes, by number (recorded from the source). */
    public hashes: Map<number, string> = new Map(),
  ) {}

  /** Records everything `source` holds, so a test can tamper with it. */
  static async record(source: AuditLogSource): Promise<MemoryLogSource> {
    const registry = await source.location();
    const blocks = await source.range();
    const states = new Map<string, ChannelState>();
    const ids = await source.channels(blocks.toBlock);
    for (const id of ids) states.set(id, await source.channelInfo(id, blocks.toBlock));
    const messages: RawLog[] = [];
    for await (const batch of source.messageLogs(blocks)) messages.push(...batch);
    const roles: RawLog[] = [];
    const { memberRoleOf } = await import("@chainmail/protocol");
    for await (const batch of source.roleLogs({ ...blocks, roles: ids.map(memberRoleOf) })) roles.push(...batch);
    const hashes = new Map<number, string>();
    if (source.blockHash) {
      for (const l of [...messages, ...roles]) if (!hashes.has(l.blockNumber)) hashes.set(l.blockNumber, (await source.blockHash(l.blockNumber))!);
    }
    return new MemoryLogSource(registry, blocks, messages, roles, states, 2000, new Map(), hashes);
  }

  async location() {
    return this.registry;
  }
  async range() {
    return this.blocks;
  }
  async channels() {
    return [...this.states.keys()];
  }
  async channelInfo(channel: string): Promise<ChannelState> {
    return this.states.get(channel) ?? { exists: false, open: false, seq: 0n, head: "0x" + "00".repeat(32) };
  }
  async *messageLogs(range: BlockRange & { channels?: string[] }) {
    const wanted = range.channels && new Set(range.channels.map((c) => c.toLowerCase()));
    const selected = this.messages.filter(
      (l) => l.blockNumber >= range.fromBlock && l.blockNumber <= range.toBlock && (!wanted || wanted.has(l.topics[1]?.toLowerCase())),
    );
    for (let i = 0; i < selected.length; i += this.batchSize) yield selected.slice(i, i + this.batchSize);
  }
  async *roleLogs(range: BlockRange & { roles: string[] }) {
    const wanted = new Set(range.roles.map((r) => r.toLowerCase()));
    yield this.roles.filter((l) => l.blockNumber >= range.fromBlock && l.blockNumber <= range.toBlock && wanted.has(l.topics[1]?.toLowerCase()));
  }
  async blockHash(n: number): Promise<string | undefined> {
    return this.hashes.get(n);
  }
  async contractSignature(author: string): Promise<ContractSignatureResult> {
    return this.wallets.get(author.toLowerCase()) ?? "not-contract";
  }
}
