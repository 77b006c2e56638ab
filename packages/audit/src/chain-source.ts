/**
 * The audit's real log source: a registry on any JSON-RPC chain. Logs are read in
 * bounded block ranges from the registry's `deploymentBlock()` (nodes refuse or time out
 * on unbounded `eth_getLogs`), and every view is read at one snapshot block, so the
 * stored seq/head and the logs describe the same moment even while the chain moves on.
 */
import { FetchRequest, getAddress, Interface, JsonRpcProvider, Network, type Provider } from "ethers";
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
}

export class ChainLogSource implements AuditLogSource {
  private readonly registry: MessageRegistry;
  private readonly address: string;
  private blockRange: number;
  private snapshot?: BlockRange;

  constructor(
    readonly provider: Provider,
    address: string,
    private readonly options: ChainLogSourceOptions = {},
  ) {
    this.address = getAddress(address);
    this.registry = MessageRegistry__factory.connect(this.address, provider);
    this.blockRange = Math.max(1, options.blockRange ?? 10_000);
  }

  /**
   * A source over a JSON-RPC URL. The chain id is asked once up front, so an unreachable
   * node is one clear error instead of ethers' endless "retry in 1s"; the request cache
   * is off because every read must be fresh.
   */
  static async fromUrl(url: string, address: string, options: ChainLogSourceOptions = {}): Promise<ChainLogSource> {
    const request = new FetchRequest(url);
    request.body = JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_chainId", params: [] });
    request.setHeader("content-type", "application/json");
    request.timeout = 15_000;
    let chainId: bigint;
    try {
      const response = await request.send();
      response.assertOk();
      chainId = BigInt(response.bodyJson.result);
    } catch (error) {
      throw new NodeUnreachableError(`Cannot reach a JSON-RPC node at ${url} (${String((error as Error).message ?? error).split("\n")[0].slice(0, 120)}).`);
    }
    const provider = new JsonRpcProvider(url, Network.from(chainId), { staticNetwork: true, cacheTimeout: -1, batchMaxCount: 1 });
    return new ChainLogSource(provider, address, options);
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
    let from = range.fromBlock;
    while (from <= range.toBlock) {
      const to = Math.min(range.toBlock, from + this.blockRange - 1);
      let logs;
      try {
        logs = await this.provider.getLogs({ address: this.address, topics, fromBlock: from, toBlock: to });
      } catch (error) {
        if (this.blockRange > 1 && /range|limit|too many|exceed|timeout|size/i.test(String(error))) {
          this.blockRange = Math.max(1, Math.floor(this.blockRange / 2));
          continue;
        }
        throw error;
      }
      yield logs.map((l) => ({
        address: l.address,
        topics: l.topics,
        data: l.data,
        blockNumber: l.blockNumber,
        blockHash: l.blockHash,
        transactionHash: l.transactionHash,
        index: l.index,
      }));
      from = to + 1;
    }
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

