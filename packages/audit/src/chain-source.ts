/**
 * The audit's real log source: a registry on any JSON-RPC chain. Logs are read by the
 * chain package's log reader from the registry's `deploymentBlock()` (bounded ranges,
 * halved when the node refuses one), and every view is read at one snapshot block, so
 * the stored seq/head and the logs describe the same moment even while the chain moves on.
 */
import { getAddress, Interface, JsonRpcProvider, type Provider } from "ethers";
import { callerOf, createProvider, readLogs, RpcClient, type JsonRpcCaller } from "@chainmail/chain";
import { MessageRegistry__factory, type MessageRegistry } from "@chainmail/protocol";
import { MESSAGE_POSTED_TOPIC, ROLE_GRANTED_TOPIC, ROLE_REVOKED_TOPIC } from "@chainmail/protocol";
import type { AuditLogSource, BlockRange, ChannelState, ContractSignatureResult, RawLog } from "./log-source.js";
import { ChainMailError } from "@chainmail/protocol";

const EIP1271_MAGIC = "0x1626ba7e";
const eip1271 = new Interface(["function isValidSignature(bytes32 hash, bytes signature) view returns (bytes4)"]);

export interface ChainLogSourceOptions {
  /** Blocks per eth_getLogs request; halved automatically when the node refuses a range. */
  blockRange?: number;
  /** Audit up to this block instead of the latest one. */
  toBlock?: number;
  /** Where logs are read; default the provider's own `send`. */
  rpc?: JsonRpcCaller;
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
    const rpc = new RpcClient(url);
    let chainId: bigint;
    try {
      chainId = await rpc.chainId({ timeoutMs: 15_000 });
    } catch (error) {
      throw new NodeUnreachableError(`Cannot reach a JSON-RPC node at ${url} (${String((error as Error).message ?? error).split("\n")[0].slice(0, 120)}).`);
    }
    const provider = createProvider(rpc, { chainId, batchMaxCount: 1 });
    return new ChainLogSource(provider, address, { ...options, rpc });
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
      const toBlock = this.options.toBlock ?? (await this.provider.getBlockNumber());
      this.snapshot = { fromBlock, toBlock };
    }
    return this.snapshot;
  }

  async channels(atBlock: number): Promise<string[]> {
    return (await this.registry.channels({ blockTag: atBlock })).map((c) => c.toLowerCase());
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
    try {
      if ((await this.provider.getCode(author, atBlock)) === "0x") return "not-contract";
      // State at the end of the message's block: the closest a JSON-RPC call can get to
      // the moment of the post (a wallet change later in the same block is the limit).
      const result = await this.provider.call({
        to: author,
        data: eip1271.encodeFunctionData("isValidSignature", [digest, signature]),
        blockTag: atBlock,
      });
      return result.slice(0, 10).toLowerCase() === EIP1271_MAGIC ? "valid" : "invalid";
    } catch (error) {
      // A revert means "not valid"; missing historical state (a pruned node) means we cannot tell.
      return /revert|CALL_EXCEPTION/i.test(String(error)) ? "invalid" : "unavailable";
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

