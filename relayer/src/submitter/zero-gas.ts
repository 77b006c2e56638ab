/**
 * Whether a node will mine zero-price transactions, for CHAINMAIL_GAS_MODE=zero.
 * Zero-gas private networks need a client that accepts them: Besu does (with
 * min-gas-price=0 and a zero base fee); geth does not: it raises a zero miner gas price
 * and pool price limit to its minimum and never mines a zero-price transaction, even
 * with a base fee of 0. Without this check the relayer reported ready and its messages
 * stayed pending forever.
 */
import type { JsonRpcProvider } from "ethers";

export interface ZeroGasVerdict {
  ok: boolean;
  /** One sentence for /readyz and the log. */
  detail: string;
}

export async function checkZeroGas(provider: JsonRpcProvider): Promise<ZeroGasVerdict> {
  const [client, block, gasPrice] = await Promise.all([
    provider.send("web3_clientVersion", []).then(String, () => "an unknown client"),
    provider.getBlock("latest"),
    provider.send("eth_gasPrice", []).then((p: string) => BigInt(p)),
  ]);
  const baseFee = block?.baseFeePerGas ?? 0n;
  const advice = "zero-gas networks need a client that mines zero-price transactions (Besu with min-gas-price=0); otherwise set CHAINMAIL_GAS_MODE=auto and fund the signers";
  if (/^geth\//i.test(client)) {
    return { ok: false, detail: `CHAINMAIL_GAS_MODE=zero, but the node is ${client}: geth never mines zero-price transactions; ${advice}.` };
  }
  if (baseFee > 0n) {
    return { ok: false, detail: `CHAINMAIL_GAS_MODE=zero, but the chain charges a base fee of ${baseFee} wei, so a zero-price transaction is never mined; ${advice}.` };
  }
  if (gasPrice > 0n) {
    return { ok: false, detail: `CHAINMAIL_GAS_MODE=zero, but the node (${client}) asks a gas price of ${gasPrice} wei; ${advice}.` };
  }
  return { ok: true, detail: `gas is free on this chain (${client})` };
}
