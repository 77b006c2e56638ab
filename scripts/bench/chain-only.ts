/**
 * The chain-only case: pre-signed messages in pre-signed postBatch transactions (encoded
 * and signed before the clock starts) sent straight to the node from several senders,
 * pipelined (each keeps up to `inflight` transactions unconfirmed), no
 * relayer. What the chain itself absorbs on this machine: the relayer's figure is printed
 * as a fraction of it. The count is checked against the channel's seq on the chain.
 */
import { Wallet } from "ethers";
import { RpcClient } from "@chainmail/chain";
import { packBatch, type SignedMessage } from "@chainmail/protocol";
import type { RunningNode } from "@chainmail/testkit";
import { nodeCpuSeconds, progress, type BenchRegistry } from "./relayer-load.js";

export interface ChainOnlyResult {
  messages: number;
  batch: number;
  senders: number;
  transactions: number;
  wallSeconds: number;
  confirmedPerSecond: number;
  /** Counted on the chain: the channel's seq grew by this much. */
  chainConfirmed: number;
  nodeCpuMicrosPerMessage: number;
}

export async function chainOnly(node: RunningNode, setup: BenchRegistry, senderKeys: string[], messages: SignedMessage[], batch: number, inflight: number): Promise<ChainOnlyResult> {
  const senders = senderKeys.map((k) => new Wallet(k, node.provider));
  const batches: SignedMessage[][] = [];
  for (let i = 0; i < messages.length; i += batch) batches.push(messages.slice(i, i + batch));
  const fees = await node.provider.getFeeData();
  const feeFields = fees.maxFeePerGas !== null
    ? { maxFeePerGas: fees.maxFeePerGas * 2n, maxPriorityFeePerGas: fees.maxPriorityFeePerGas ?? 0n, type: 2 }
    : { gasPrice: (fees.gasPrice ?? 0n) * 2n, type: 0 };
  const estimate = await setup.registry.connect(senders[0]).postBatch.estimateGas(packBatch(batches[0]));
  const gasLimit = (estimate * 13n) / 10n + 50_000n;
  const nonces = await Promise.all(senders.map((s) => node.provider.getTransactionCount(s.address, "pending")));
  const { chainId } = await node.provider.getNetwork();
  // Every transaction encoded and signed up front: the clock measures the chain, not the client.
  const signed: string[][] = senders.map(() => []);
  for (let i = 0; i < batches.length; i++) {
    const s = i % senders.length;
    const data = setup.registry.interface.encodeFunctionData("postBatch", [packBatch(batches[i])]);
    signed[s].push(await senders[s].signTransaction({ to: setup.address, data, nonce: nonces[s]++, gasLimit, chainId, ...feeFields }));
  }
  const rpc = new RpcClient(node.url);
  const seq0 = (await setup.registry.channelInfo(setup.channel))[2];
  const cpu0 = nodeCpuSeconds(node);
  const t0 = performance.now();
  let transactions = 0;
  const receiptOf = async (hash: string) => {
    for (;;) {
      const receipt = await rpc.receipt(hash);
      if (receipt) {
        if (receipt.status !== 1) throw new Error(`chain-only: batch transaction ${hash} reverted`);
        return;
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  await Promise.all(
    senders.map(async (_sender, s) => {
      const outstanding: string[] = [];
      for (const raw of signed[s]) {
        outstanding.push(await rpc.call<string>("eth_sendRawTransaction", [raw]));
        transactions++;
        if (outstanding.length >= inflight) await receiptOf(outstanding.shift()!);
      }
      for (const hash of outstanding) await receiptOf(hash);
    }),
  );
  const wall = (performance.now() - t0) / 1000;
  const cpu = nodeCpuSeconds(node) - cpu0;
  const chainConfirmed = Number((await setup.registry.channelInfo(setup.channel))[2] - seq0);
  if (chainConfirmed !== messages.length) throw new Error(`chain-only: ${messages.length} messages sent, but the channel's seq grew by ${chainConfirmed}.`);
  const result = {
    messages: messages.length,
    batch,
    senders: senders.length,
    transactions,
    wallSeconds: Math.round(wall * 100) / 100,
    confirmedPerSecond: Math.round(chainConfirmed / wall),
    chainConfirmed,
    nodeCpuMicrosPerMessage: Math.round((cpu * 1e6) / chainConfirmed),
  };
  progress(`  chain-only: ${chainConfirmed} messages in ${transactions} postBatch transactions from ${senders.length} senders in ${result.wallSeconds} s: ${result.confirmedPerSecond}/s; node ${result.nodeCpuMicrosPerMessage} µs CPU/msg`);
  return result;
}
