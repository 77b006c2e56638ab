/**
 * Which client answers, for defaults that differ between them. Finality is the case in
 * point: geth's dev mode reports `finalized` and `safe` only at multiples of 32 blocks
 * (its simulated beacon's epoch), so "finalized" there means a lag of up to 32 blocks
 * and, with blocks on demand, an idle chain whose tail is never final; yet a dev chain
 * has one sealer and never reorganises, so its latest block is as final as it gets.
 */
import type { JsonRpcCaller } from "./client.js";

export interface ClientKind {
  /** "hardhat", "geth", "besu" or "other". */
  name: "hardhat" | "geth" | "besu" | "other";
  /** geth --dev (chain id 1337): one sealer, no reorgs. */
  dev: boolean;
  /** web3_clientVersion as the node gave it ("" when it would not say). */
  version: string;
}

export const GETH_DEV_CHAIN_ID = 1337n;

export async function detectClient(rpc: JsonRpcCaller): Promise<ClientKind> {
  const [version, chainId] = await Promise.all([
    rpc.call<string>("web3_clientVersion", []).then(String, () => ""),
    rpc.call<string>("eth_chainId", []).then(BigInt, () => 0n),
  ]);
  const lower = version.toLowerCase();
  const name = lower.startsWith("geth/") ? "geth" : lower.startsWith("besu/") ? "besu" : lower.startsWith("hardhatnetwork/") || lower.includes("edr") ? "hardhat" : "other";
  return { name, dev: name === "geth" && chainId === GETH_DEV_CHAIN_ID, version };
}
