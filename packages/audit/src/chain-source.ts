/**
 * The audit's real log source: a registry on any JSON-RPC chain. Logs are read by the
 * chain package's log reader from the registry's `deploymentBlock()` (bounded ranges,
 * halved when the node refuses one), and every view is read at one snapshot block, so
 * the stored seq/head and the logs describe the same moment even while the chain moves on.
 */
import { getAddress, Interface, JsonRpcProvider, type Provider } from "ethers";
import { callerOf, createProvider, FinalityResolver, readLogs, RpcClient, toBlockTag, type BlockRef, type BlockTag, type JsonRpcCaller } from "@chainmail/chain";
import { anchorRegistry, type Anchor, type Checkpoint, type Endpoint } from "./anchor.js";
import { allChannelIds, MessageRegistry__factory, type MessageRegistry } from "@chainmail/protocol";
import { MESSAGE_POSTED_TOPIC, ROLE_GRANTED_TOPIC, ROLE_REVOKED_TOPIC } from "@chainmail/protocol";
import type { AuditLogSource, BlockRange, ChannelState, ContractSignatureResult, RawLog } from "./log-source.js";
import { ChainMailError } from "@chainmail/protocol";

const EIP1271_MAGIC = "0x1626ba7e";
const eip1271 = new Interface(["function isValidSignature(bytes32 hash, bytes signature) view returns (bytes4)"]);

export interface ChainLogSourceOptions {
  /** Blocks per eth_getLogs request; halved automatically when the node refuses a range. */
  blockRange?: number;
  /** Audit up to this block instead of the final one. */
  toBlock?: number;
  /** Audit up to this block, whose header must hash to `hash` (the auditor's trust anchor). */
  checkpoint?: Checkpoint;
  /** Blocks below the latest counted as final when the node knows neither `finalized` nor `safe`; default 12. */
  depth?: number;
  /** Where logs are read; default the provider's own `send`. */
  rpc?: JsonRpcCaller;
  /** This endpoint's URL, for findings that name endpoints; default "the node". */
  url?: string;
  /** Other endpoints that must agree on the audited block's header. */
  witnesses?: Endpoint[];
  /** Prove the registry's state with eth_getProof against the header (default true). */
  prove?: boolean;
}

/** An ethers provider that can also make raw JSON-RPC calls (JsonRpcProvider, Hardhat's). */
export type RpcProvider = Provider & { send(method: string, params: unknown[]): Promise<unknown> };

export class ChainLogSource implements AuditLogSource {
  private readonly registry: MessageRegistry;
  private readonly address: string;
  private readonly rpc: JsonRpcCaller;
  /** Blocks per eth_getLogs; the reader's halving is carried from one read to the next. */
  private blockRange: number;
  private snapshot?: BlockRange;

  constructor(
    readonly provider: RpcProvider,
    address: string,
    private readonly options: ChainLogSourceOptions = {},
  ) {
    this.address = getAddress(address);
    this.registry = MessageRegistry__factory.connect(this.address, provider);
    this.rpc = options.rpc ?? callerOf(provider);
    this.blockRange = Math.max(1, options.blockRange ?? 10_000);
  }

  /**
   * A source over a JSON-RPC URL. The chain id is asked once up front, so an unreachable
   * node is one clear error instead of ethers' endless "retry in 1s"; the request cache
   * is off because every read must be fresh.
   */
  static async fromUrl(url: string, address: string, options: ChainLogSourceOptions = {}): Promise<ChainLogSource> {
    return ChainLogSource.fromUrls([url], address, options);
  }

  /** A source reading from the first URL; the others are witnesses that must agree on the audited block's header. */
  static async fromUrls(urls: string[], address: string, options: ChainLogSourceOptions = {}): Promise<ChainLogSource> {
    const clients = urls.map((url) => new RpcClient(url));
    const chainIds: bigint[] = [];
    for (const rpc of clients) {
      try {
        chainIds.push(await rpc.chainId({ timeoutMs: 15_000 }));
      } catch (error) {
        throw new NodeUnreachableError(`Cannot reach a JSON-RPC node at ${rpc.url} (${String((error as Error).message ?? error).split("\n")[0].slice(0, 120)}).`);
      }
    }
    const other = chainIds.findIndex((id) => id !== chainIds[0]);
    if (other > 0) throw new NodeUnreachableError(`${urls[other]} is chain ${chainIds[other]}, but ${urls[0]} is chain ${chainIds[0]}.`);
    const provider = createProvider(clients[0], { chainId: chainIds[0], batchMaxCount: 1 });
    const witnesses = clients.slice(1).map((rpc) => ({ url: rpc.url, rpc }));
    return new ChainLogSource(provider, address, { ...options, rpc: clients[0], url: urls[0], witnesses });
  }

  async location() {
    const { chainId } = await this.provider.getNetwork();
    return { chainId, address: this.address };
  }

  async range(): Promise<BlockRange> {
    if (!this.snapshot) {
      const code = await this.provider.getCode(this.address);
      if (code === "0x") throw new NoRegistryError(`There is no contract at ${this.address} on this chain.`);
      const fromBlock = Number(await this.registry.deploymentBlock());
      const toBlock = this.options.checkpoint?.block ?? this.options.toBlock ?? (await this.finalBlock());
      this.snapshot = { fromBlock, toBlock };
    }
    return this.snapshot;
  }

  /** The newest final block: finalized, else safe, else latest minus the depth. */
  private async finalBlock(): Promise<number> {
    const block = async (tag: BlockTag): Promise<BlockRef | null> => {
      const raw = await this.rpc.call<{ number: string; hash: string; timestamp: string } | null>("eth_getBlockByNumber", [toBlockTag(tag), false]);
      return raw && { number: Number(raw.number), hash: raw.hash.toLowerCase(), timestamp: Number(raw.timestamp) };
    };
    const latest = await block("latest");
    if (!latest) throw new NodeUnreachableError("The node has no latest block.");
    const final = await new FinalityResolver({ block }, "auto", this.options.depth ?? 12).safeTip(latest);
    if (!final) throw new NoRegistryError(`The chain has no final block yet (latest ${latest.number}).`);
    return final.number;
  }

  private readonly hashes = new Map<number, Promise<string | undefined>>();

  async blockHash(n: number): Promise<string | undefined> {
    let hash = this.hashes.get(n);
    if (!hash) {
      hash = this.rpc.call<{ hash: string } | null>("eth_getBlockByNumber", [toBlockTag(n), false]).then((b) => b?.hash.toLowerCase());
      this.hashes.set(n, hash);
    }
    return hash;
  }

  async anchor(atBlock: number): Promise<Anchor> {
    const endpoints = [{ url: this.options.url ?? "the node", rpc: this.rpc }, ...(this.options.witnesses ?? [])];
    return anchorRegistry(endpoints, this.address, atBlock, this.options.checkpoint, this.options.prove ?? true);
  }

  async channels(atBlock: number): Promise<string[]> {
    return (await allChannelIds(this.registry, atBlock)).map((c) => c.toLowerCase());
  }

  async channelInfo(channel: string, atBlock: number): Promise<ChannelState> {
    const [exists, open, seq, head] = await this.registry.channelInfo(channel, { blockTag: atBlock });
    return { exists, open, seq, head };
  }

  messageLogs(range: BlockRange & { channels?: string[] }): AsyncIterable<RawLog[]> {
    const channelTopic = range.channels?.length ? range.channels.map((c) => c.toLowerCase()) : null;
    return this.logs(range, [MESSAGE_POSTED_TOPIC, channelTopic]);
  }

  roleLogs(range: BlockRange & { roles: string[] }): AsyncIterable<RawLog[]> {
    if (range.roles.length === 0) return (async function* () {})();
    return this.logs(range, [[ROLE_GRANTED_TOPIC, ROLE_REVOKED_TOPIC], range.roles]);
  }

  async contractSignature(author: string, digest: string, signature: string, atBlock: number): Promise<ContractSignatureResult> {
    const block = toBlockTag(atBlock);
    let code: string;
    try {
      code = await this.rpc.call<string>("eth_getCode", [author, block]);
    } catch {
      // Without the code we cannot tell an account from a wallet: never "not a contract".
      return "unavailable";
    }
    if (code === "0x") return "not-contract";
    try {
      // State at the end of the message's block: the closest a JSON-RPC call can get to
      // the moment of the post (a wallet change later in the same block is the limit).
      const result = await this.rpc.call<string>("eth_call", [
        { to: author, data: eip1271.encodeFunctionData("isValidSignature", [digest, signature]) },
        block,
      ]);
      return typeof result === "string" && result.slice(0, 10).toLowerCase() === EIP1271_MAGIC ? "valid" : "invalid";
    } catch (error) {
      // Only an execution revert means "not valid"; a node error (missing state, timeout) means we cannot tell.
      return isRevert(error) ? "invalid" : "unavailable";
    }
  }

  private async *logs(range: BlockRange, topics: Array<string | string[] | null>): AsyncIterable<RawLog[]> {
    const chunks = readLogs(
      this.rpc,
      { address: this.address, topics },
      { ...range, chunkBlocks: this.blockRange, onRetry: (retry) => (this.blockRange = retry.chunkBlocks) },
    );
    for await (const chunk of chunks) yield chunk.logs;
  }

  async close(): Promise<void> {
    if (this.provider instanceof JsonRpcProvider) this.provider.destroy();
  }
}

function isRevert(error: unknown): boolean {
  const e = error as { rpcCode?: number; error?: { code?: number; message?: string }; message?: string };
  const code = e?.rpcCode ?? e?.error?.code;
  const message = e?.error?.message ?? e?.message ?? "";
  return code === 3 || /execution reverted|reverted with|invalid opcode|revert/i.test(message) && !/missing trie node|header not found|state.*not available/i.test(message);
}

/** The address given is not a registry on this chain. */
export class NoRegistryError extends ChainMailError {
  override name = "NoRegistryError";
  constructor(message: string) {
    super("NoRegistry", message);
  }
}

/** No JSON-RPC node answers at the URL. */
export class NodeUnreachableError extends ChainMailError {
  override name = "NodeUnreachableError";
  constructor(message: string, options?: { cause?: unknown }) {
    super("NodeUnreachable", message, options);
  }
}

