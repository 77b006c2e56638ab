/**
 * The gas of messages made the way users make them: signed by the client SDK's own
 * `signForRelayer` (the path `chainmail post`/`sign` and every SDK user take), with the
 * SDK's nonce choice (protocol NonceSource: a claimed random bitmap word per author and
 * process, its 256 bits in order), not hand-picked nonces. Ten authors, one process each,
 * round-robin into batches of 100; the figure is the mean over every batch, so it
 * includes each author's fresh words (zero -> non-zero SSTORE) where they fall.
 */
import { hexlify, randomBytes, type Wallet } from "ethers";
import { signForRelayer, type RelayerInfo } from "@chainmail/client";
import { NonceSource, type SignedMessage } from "@chainmail/protocol";
import { traceCategories, type Category } from "./gas-breakdown.js";
import type { ChainMailGasBench } from "./gas-chainmail.js";

export interface SdkResult {
  bodyBytes: number;
  batch: number;
  authors: number;
  batches: number;
  messages: number;
  gasUsed: number;
  gasPerMessage: number;
  /** Bitmap words the SDK claimed (each one paid a zero -> non-zero SSTORE once). */
  freshWords: number;
  /** Traced gas per message by cost item, over every batch (null when the node cannot trace). */
  costItems: Record<"intrinsic" | "calldata" | "log" | "ecrecover" | "storage" | "rest", number> | null;
}

export async function benchSdk(args: {
  bench: ChainMailGasBench;
  info: RelayerInfo;
  channel: string;
  authors: Wallet[];
  bodyBytes: number;
  batch: number;
  batches: number;
  timestamp: bigint;
  send: (method: string, params: unknown[]) => Promise<unknown>;
  calldataGas: (data: string) => number;
}): Promise<SdkResult> {
  // One NonceSource per author: each author is its own SDK process.
  const sources = args.authors.map(() => new NonceSource());
  const words = new Set<string>();
  const rounds: SignedMessage[][] = [];
  for (let b = 0; b < args.batches; b++) {
    const messages: SignedMessage[] = [];
    for (let i = 0; i < args.batch; i++) {
      const k = i % args.authors.length;
      const { signed } = await signForRelayer(
        {
          relayerUrl: "http://unused.invalid", // never asked: the info is given
          signer: args.authors[k],
          channel: args.channel,
          body: hexlify(randomBytes(args.bodyBytes)),
          contentType: "application/octet-stream",
          timestamp: args.timestamp,
          nonces: sources[k],
        },
        args.info,
      );
      words.add(`${signed.author}:${signed.nonce >> 8n}`);
      messages.push(signed);
    }
    rounds.push(messages);
  }
  let gasUsed = 0;
  let messages = 0;
  const sums: Record<Category, number> = { intrinsic: 0, calldata: 0, log: 0, ecrecover: 0, keccak: 0, sload: 0, sstore: 0, other: 0 };
  let traced = true;
  for (const round of rounds) {
    const { receipt, calldata } = await args.bench.sendChecked(round);
    gasUsed += Number(receipt.gasUsed);
    messages += round.length;
    const t = traced ? await traceCategories(args.send, receipt.hash) : null;
    if (!t) {
      traced = false;
      continue;
    }
    for (const c of Object.keys(sums) as Category[]) sums[c] += t[c];
    sums.intrinsic += 21_000;
    sums.calldata += args.calldataGas(calldata);
  }
  const per = (x: number) => Math.round((x / messages) * 10) / 10;
  return {
    bodyBytes: args.bodyBytes,
    batch: args.batch,
    authors: args.authors.length,
    batches: args.batches,
    messages,
    gasUsed,
    gasPerMessage: per(gasUsed),
    freshWords: words.size,
    costItems: traced
      ? {
          intrinsic: per(sums.intrinsic),
          calldata: per(sums.calldata),
          log: per(sums.log),
          ecrecover: per(sums.ecrecover),
          storage: per(sums.sload + sums.sstore),
          rest: per(sums.keccak + sums.other),
        }
      : null,
  };
}
