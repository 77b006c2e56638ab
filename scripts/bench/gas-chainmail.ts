/**
 * ChainMail side of the gas benchmark: pre-signs messages for every scenario, posts
 * them (postBatch, or post one per transaction) and reads gasUsed from the receipts.
 *
 * Cold vs warm: an author's nonces are consecutive inside one 256-nonce bitmap word.
 * Every scenario gets a fresh word, so its first round ("cold") pays the zero-to-nonzero
 * SSTORE of each author's word; the second round ("warm", the steady state) uses the
 * next nonces of the same words, already non-zero.
 */
import { hexlify, keccak256, randomBytes, toUtf8Bytes, Wallet, type Signer, type TransactionReceipt } from "ethers";
import type { MessageRegistry } from "../../typechain-types/index.js";
import { calldataStats } from "./gas-breakdown.js";
import {
  MESSAGE_POSTED_TOPIC,
  MESSAGE_REJECTED_TOPIC,
  decodeMessageRejected,
  reasonName,
  signMessage,
  toCallArgument,
  type RegistryLocation,
  type SignedMessage,
  packBatch,
} from "@chainmail/protocol";

export type Mode = "batch" | "onePerTx";

export interface Scenario {
  bodyBytes: number;
  /** Messages per transaction (1 for one-per-transaction). */
  batch: number;
  /** Distinct authors inside one transaction. */
  authors: number;
  mode: Mode;
  /** Independent transactions per round (averaged); > 1 only for single-message transactions. */
  samples: number;
}

export interface RoundResult {
  transactions: number;
  messages: number;
  gasUsed: number;
  gasPerMessage: number;
  /** How each batch was actually sent, when it had to be split to fit a transaction. */
  splitNote?: string;
  /**
   * Transactions that paid the EIP-7623 calldata floor (Prague and later: at least
   * 21,000 + 10 per zero byte + 40 per non-zero byte) instead of their execution cost.
   */
  floorPricedTransactions: number;
  /** The receipts and calldata of the round, for the breakdown. */
  receipts: TransactionReceipt[];
  calldata: string[];
}

export interface ScenarioResult {
  scenario: Scenario;
  cold: RoundResult;
  warm: RoundResult;
}

/**
 * Deterministic bench-only author keys (never funded, never used elsewhere): authors
 * only sign, the relayer account pays.
 */
export function benchAuthors(count: number): Wallet[] {
  return Array.from({ length: count }, (_, i) => new Wallet(keccak256(toUtf8Bytes(`chainmail gas bench author ${i}`))));
}

/** Pre-signed transactions of one round: each inner array is one transaction's messages. */
type Round = SignedMessage[][];

export class ChainMailGasBench {
  private nextWord = 1n;

  constructor(
    private readonly registry: MessageRegistry,
    private readonly location: RegistryLocation,
    private readonly channel: string,
    private readonly authors: Wallet[],
    private readonly relayer: Signer,
    private readonly log: (line: string) => void,
  ) {}

  /** Signs the cold and warm rounds of a scenario (nothing is sent). */
  async presign(scenario: Scenario, timestamp: bigint): Promise<{ cold: Round; warm: Round }> {
    const word = this.nextWord++;
    const used = new Map<string, bigint>();
    const nextNonce = (author: Wallet) => {
      const index = used.get(author.address) ?? 0n;
      if (index > 255n) throw new Error("bench bug: more than 256 nonces in one word");
      used.set(author.address, index + 1n);
      return (word << 8n) | index;
    };
    const sign = (author: Wallet) =>
      signMessage(author, this.location, {
        channel: this.channel,
        author: author.address,
        // Random bytes: almost no zero bytes, the worst case for calldata (16 gas per byte).
        body: hexlify(randomBytes(scenario.bodyBytes)),
        contentType: 3,
        timestamp,
        replyTo: 0n,
        nonce: nextNonce(author),
      });
    const round = async (): Promise<Round> => {
      const txs: Round = [];
      for (let s = 0; s < scenario.samples; s++) {
        const messages: SignedMessage[] = [];
        // Round-robin over the authors; with samples > 1 each sample is another author.
        for (let i = 0; i < scenario.batch; i++) {
          const author = this.authors[(s * scenario.authors + (i % scenario.authors)) % this.authors.length];
          messages.push(await sign(author));
        }
        txs.push(messages);
      }
      return txs;
    };
    const cold = await round();
    const warm = await round();
    return { cold, warm };
  }

  async run(scenario: Scenario, rounds: { cold: Round; warm: Round }): Promise<ScenarioResult> {
    return { scenario, cold: await this.send(scenario, rounds.cold), warm: await this.send(scenario, rounds.warm) };
  }

  private async send(scenario: Scenario, round: Round): Promise<RoundResult> {
    const receipts: TransactionReceipt[] = [];
    const calldata: string[] = [];
    const notes: string[] = [];
    let messages = 0;
    for (const tx of round) {
      if (scenario.mode === "onePerTx") {
        for (const m of tx) {
          const sent = await this.registry.connect(this.relayer).post(toCallArgument(m));
          receipts.push(this.checkReceipt((await sent.wait())!, 1));
          calldata.push(sent.data);
        }
      } else {
        await this.sendBatch(tx, receipts, calldata, notes);
      }
      messages += tx.length;
    }
    const gasUsed = receipts.reduce((sum, r) => sum + Number(r.gasUsed), 0);
    const floorPricedTransactions = receipts.filter((r, i) => Number(r.gasUsed) === 21_000 + calldataStats(calldata[i]).floorGas).length;
    return {
      floorPricedTransactions,
      transactions: receipts.length,
      messages,
      gasUsed,
      gasPerMessage: gasUsed / messages,
      splitNote: notes.length ? notes.join(" ") : undefined,
      receipts,
      calldata,
    };
  }

  /**
   * Sends one batch; if it cannot be sent as one transaction (block gas limit, or the
   * per-transaction gas cap of EIP-7825 on Osaka), splits it in halves and says so.
   */
  private async sendBatch(messages: SignedMessage[], receipts: TransactionReceipt[], calldata: string[], notes: string[]) {
    try {
      const sent = await this.registry.connect(this.relayer).postBatch(packBatch(messages));
      receipts.push(this.checkReceipt((await sent.wait())!, messages.length));
      calldata.push(sent.data);
    } catch (error) {
      if (messages.length === 1 || error instanceof BenchCheckError) throw error;
      const reason = String((error as Error).message ?? error).split("\n")[0].slice(0, 200);
      const half = Math.ceil(messages.length / 2);
      notes.push(`A batch of ${messages.length} did not go through as one transaction (${reason}); it was split into ${half} + ${messages.length - half}.`);
      this.log(`  batch of ${messages.length} failed (${reason}); splitting`);
      await this.sendBatch(messages.slice(0, half), receipts, calldata, notes);
      await this.sendBatch(messages.slice(half), receipts, calldata, notes);
    }
  }

  /** Sends one batch as one transaction and checks every message was posted. */
  async sendChecked(messages: SignedMessage[]): Promise<{ receipt: TransactionReceipt; calldata: string }> {
    const sent = await this.registry.connect(this.relayer).postBatch(packBatch(messages));
    return { receipt: this.checkReceipt((await sent.wait())!, messages.length), calldata: sent.data };
  }

  /** A gas figure means nothing unless every message was really posted. */
  private checkReceipt(receipt: TransactionReceipt, expected: number): TransactionReceipt {
    if (receipt.status !== 1) throw new BenchCheckError(`transaction ${receipt.hash} reverted`);
    const rejected = receipt.logs.filter((l) => l.topics[0] === MESSAGE_REJECTED_TOPIC);
    if (rejected.length) {
      const why = reasonName(decodeMessageRejected(rejected[0]).reason);
      throw new BenchCheckError(`${rejected.length} message(s) were rejected (first: ${why})`);
    }
    const posted = receipt.logs.filter((l) => l.topics[0] === MESSAGE_POSTED_TOPIC).length;
    if (posted !== expected) throw new BenchCheckError(`expected ${expected} MessagePosted events, got ${posted}`);
    return receipt;
  }
}

export class BenchCheckError extends Error {}
