/**
 * The chain plugin's state: the JSON-RPC client and the ethers provider built from it
 * (both from @chainmail/chain), the typed registry, the signer
 * wallets, and cached views (limits, channels, membership, chain time) that the
 * pre-checks use. Caches only save gas and RPC calls: the contract re-checks
 * everything, so a stale answer can cost at most an on-chain rejection, never a
 * wrong message on-chain.
 */
import { getAddress, Wallet, zeroPadValue, type JsonRpcProvider } from "ethers";
import { collectLogs, createProvider, RpcClient } from "@chainmail/chain";
import { MessageRegistry__factory, type MessageRegistry } from "@chainmail/protocol";
import { memberRoleOf, ROLE_GRANTED_TOPIC, ROLE_REVOKED_TOPIC, type RegistryLocation } from "@chainmail/protocol";
import { TtlCache } from "./cache.js";
import type { RelayerConfig } from "./config.js";

export interface Limits {
  maxBodyBytes: number;
  maxAge: number;
  maxFutureSkew: number;
}

export interface ChannelState {
  exists: boolean;
  open: boolean;
  seq: bigint;
  head: string;
}

export class Chain {
  /** Lean calls and log reads; the hot path (send, receipts, probe) goes through it. */
  readonly rpc: RpcClient;
  /** For typed contract calls and signing wallets. */
  readonly provider: JsonRpcProvider;
  readonly registry: MessageRegistry;
  readonly wallets: Wallet[];
  readonly location: RegistryLocation;
  readonly deploymentBlock: number;
  private readonly limitsCache: TtlCache<Limits>;
  private readonly channelCache: TtlCache<ChannelState>;
  private readonly memberCache: TtlCache<boolean>;
  private readonly roles = new Map<string, string>();
  private readonly contentTypeCache: TtlCache<boolean>;
  /** The latest block, asked at most once a second however many checks want it at once. */
  private readonly latestBlockCache = new TtlCache<{ number: number; timestamp: number }>(1000);
  private membershipWatcher?: ReturnType<typeof setInterval>;
  private membershipCursor = 0;

  private constructor(
    readonly config: RelayerConfig,
    rpc: RpcClient,
    provider: JsonRpcProvider,
    chainId: bigint,
    deploymentBlock: number,
  ) {
    this.rpc = rpc;
    this.provider = provider;
    this.registry = MessageRegistry__factory.connect(config.registryAddress, provider);
    this.wallets = config.signerKeys.map((key) => new Wallet(key, provider));
    this.location = { chainId, address: getAddress(config.registryAddress) };
    this.deploymentBlock = deploymentBlock;
    this.limitsCache = new TtlCache(Math.max(config.cacheTtlMs, 1000));
    this.channelCache = new TtlCache(config.cacheTtlMs);
    this.memberCache = new TtlCache(config.cacheTtlMs);
    this.contentTypeCache = new TtlCache(Math.max(config.cacheTtlMs, 1000));
  }

  /**
   * Connects: learns the chain id and checks that a registry lives at the address.
   * Throws one sentence when either fails, so a wrong setting stops the start-up.
   */
  static async connect(config: RelayerConfig): Promise<Chain> {
    const rpc = new RpcClient(config.rpcUrl, { timeoutMs: config.rpcTimeoutMs });
    let chainId: bigint;
    try {
      chainId = await rpc.chainId();
    } catch (error) {
      throw new Error(`Cannot reach the chain at CHAINMAIL_RPC_URL=${config.rpcUrl}: ${shortError(error)}.`);
    }
    // Batching turns the many small view calls of a burst into few HTTP requests.
    const provider = createProvider(rpc, { chainId, pollingIntervalMs: config.receiptPollMs, batchStallMs: 2 });
    const code = await provider.getCode(config.registryAddress);
    if (code === "0x") {
      provider.destroy();
      throw new Error(`No contract at CHAINMAIL_REGISTRY=${config.registryAddress} on chain ${chainId}.`);
    }
    const registry = MessageRegistry__factory.connect(config.registryAddress, provider);
    let deploymentBlock: number;
    try {
      deploymentBlock = Number(await registry.deploymentBlock());
    } catch {
      provider.destroy();
      throw new Error(`The contract at CHAINMAIL_REGISTRY=${config.registryAddress} is not a MessageRegistry.`);
    }
    const chain = new Chain(config, rpc, provider, chainId, deploymentBlock);
    chain.membershipCursor = (await chain.latestBlock()).number;
    return chain;
  }

  /**
   * Follows RoleGranted/RoleRevoked so a revoked member is refused within a poll, not a
   * TTL. A failed poll is retried by the next one (the cursor only moves on success), but
   * it is handed to `onError`: while polls fail, revocations wait for the cache TTL.
   */
  startMembershipWatcher(onError: (error: unknown) => void, intervalMs = 1000): void {
    this.membershipWatcher = setInterval(() => {
      void this.pollMembership().catch(onError);
    }, intervalMs);
    this.membershipWatcher.unref();
  }

  private async pollMembership(): Promise<void> {
    const latest = await this.rpc.blockNumber();
    if (latest <= this.membershipCursor) return;
    const logs = await collectLogs(
      this.rpc,
      { address: this.location.address, topics: [[ROLE_GRANTED_TOPIC, ROLE_REVOKED_TOPIC]] },
      { fromBlock: this.membershipCursor + 1, toBlock: latest, chunkBlocks: this.config.logChunkBlocks },
    );
    for (const log of logs) {
      const account = getAddress("0x" + log.topics[2].slice(26));
      this.memberCache.delete(`${log.topics[1]}:${account}`);
    }
    this.membershipCursor = latest;
  }

  private latestBlock(): Promise<{ number: number; timestamp: number }> {
    return this.latestBlockCache.get("latest", async () => {
      const block = await this.rpc.block("latest");
      if (!block) throw new Error("The node has no latest block.");
      return { number: block.number, timestamp: block.timestamp };
    });
  }

  /**
   * The time the next block will carry, as well as we can tell: the later of the
   * wall clock and the latest block (a dev chain may run ahead of the wall clock).
   */
  async chainNow(): Promise<number> {
    return Math.max(Math.floor(Date.now() / 1000), (await this.latestBlock()).timestamp);
  }

  limits(): Promise<Limits> {
    return this.limitsCache.get("limits", async () => {
      const l = await this.registry.limits();
      return { maxBodyBytes: Number(l.maxBodyBytes), maxAge: Number(l.maxAge), maxFutureSkew: Number(l.maxFutureSkew) };
    });
  }

  channel(id: string, fresh = false): Promise<ChannelState> {
    if (fresh) this.channelCache.delete(id);
    return this.channelCache.get(id, async () => {
      const [exists, open, seq, head] = await this.registry.channelInfo(id);
      return { exists, open, seq, head };
    });
  }

  isMember(channel: string, author: string): Promise<boolean> {
    const role = this.roleOf(channel);
    return this.memberCache.get(`${role}:${author}`, () => this.registry.hasRole(role, author));
  }

  /** Whether the cache holds `author` as a member of `channel` (fresh, and not revoked since: see startMembershipWatcher). */
  knownMember(channel: string, author: string): boolean {
    return this.memberCache.peek(`${this.roleOf(channel)}:${author}`) === true;
  }

  /** Remembers a membership answer another lookup (the probe) got from the chain. */
  rememberMember(channel: string, author: string, member: boolean): void {
    this.memberCache.set(`${this.roleOf(channel)}:${author}`, member);
  }

  /** memberRoleOf, remembered: a keccak per message is a measurable share of the relayer's CPU. */
  private roleOf(channel: string): string {
    let role = this.roles.get(channel);
    if (role === undefined) {
      if (this.roles.size >= 10_000) this.roles.clear();
      this.roles.set(channel, (role = memberRoleOf(channel)));
    }
    return role;
  }

  isContentTypeKnown(code: number): Promise<boolean> {
    return this.contentTypeCache.get(String(code), () => this.registry.isContentTypeKnown(code));
  }

  /** Never cached: a nonce turns used the moment a message lands. */
  isNonceUsed(author: string, nonce: bigint): Promise<boolean> {
    return this.registry.isNonceUsed(author, nonce);
  }

  authorTopic(author: string): string {
    return zeroPadValue(author, 32).toLowerCase();
  }

  close(): void {
    if (this.membershipWatcher) clearInterval(this.membershipWatcher);
    this.provider.destroy();
  }
}

export function shortError(error: unknown): string {
  if (error && typeof error === "object") {
    const e = error as { shortMessage?: string; message?: string; code?: string };
    return e.shortMessage ?? e.message ?? String(e.code);
  }
  return String(error);
}
