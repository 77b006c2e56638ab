/**
 * A single message proven, for anyone to check offline: `chainmail prove --digest D`
 * finds the message's MessagePosted log, and writes the log's decoded fields, its
 * transaction's receipt, that receipt's inclusion proof in the block's receipts trie
 * (built here from every receipt of the block) and the block header. `chainmail
 * verify-evidence FILE` checks it with no network: the header against its hash (and the
 * auditor's checkpoint), the receipt against the header's receiptsRoot, the log in the
 * receipt against the fields, the digest recomputed, the signature recovered. The format
 * is documented in the README beside the evidence bundle's.
 */
import {
  blockReceipts,
  checkHeader,
  encodeReceipt,
  ProofError,
  readLogs,
  receiptKey,
  receiptsTrie,
  verifyMptProof,
  type JsonRpcCaller,
  type RawHeader,
  type RawReceiptForTrie,
} from "@chainmail/chain";
import { keccak256 } from "ethers";
import { channelName, decodeMessagePosted, MESSAGE_POSTED_TOPIC, recoverAuthor } from "@chainmail/protocol";
import type { Checkpoint } from "./anchor.js";
import { EvidenceError, fieldsOf, type MessageFields } from "./evidence.js";

export const MESSAGE_PROOF_FORMAT = "chainmail.message-proof.v1";

/** The receipt as its consensus encoding covers it, with where it sits. */
export type ProvenReceipt = RawReceiptForTrie & { transactionHash: string };

export interface MessageProof {
  format: typeof MESSAGE_PROOF_FORMAT;
  manifest: {
    tool: string;
    createdAt: string;
    chainId: string;
    registry: string;
    digest: string;
    block: number;
    blockHash: string;
    /** The transaction's index in the block: the receipts-trie key is rlp(transactionIndex). */
    transactionIndex: number;
    /** The MessagePosted log's position among the receipt's logs. */
    logIndex: number;
  };
  message: MessageFields;
  receipt: ProvenReceipt;
  /** The receipts-trie proof nodes, root first. */
  proof: string[];
  header: RawHeader;
}

export interface ProveOptions {
  fromBlock?: number;
  toBlock?: number;
  /** Blocks per eth_getLogs request (the chunked reader halves it when refused). */
  chunkBlocks?: number;
  tool?: string;
}

/** Finds the message with `digest` in the registry's logs and builds its proof; throws a sentence (ChainMailError) when there is none or the node's answers do not hang together. */
export async function proveMessage(rpc: JsonRpcCaller, registry: string, digest: string, options: ProveOptions = {}): Promise<MessageProof> {
  const location = { chainId: BigInt(await rpc.call<string>("eth_chainId", [])), address: registry };
  const want = digest.toLowerCase();
  const toBlock = options.toBlock ?? Number(await rpc.call<string>("eth_blockNumber", []));
  let found: { blockHash: string; transactionHash: string; index: number; blockNumber: number } | undefined;
  for await (const chunk of readLogs(rpc, { address: registry, topics: [MESSAGE_POSTED_TOPIC] }, { fromBlock: options.fromBlock ?? 0, toBlock, chunkBlocks: options.chunkBlocks })) {
    for (const log of chunk.logs) {
      let d: string;
      try {
        d = decodeMessagePosted(location, log).digest.toLowerCase();
      } catch {
        continue; // not a log this registry's ABI decodes: not the message asked for
      }
      if (d === want && !log.removed) found = log;
    }
    if (found) break;
  }
  if (!found) throw new EvidenceError(`No message with digest ${digest} was posted by registry ${registry} in blocks ${options.fromBlock ?? 0} to ${toBlock}.`);

  const header = await rpc.call<RawHeader | null>("eth_getBlockByHash", [found.blockHash, false]);
  if (!header) throw new ProofError("HeaderUnavailable", `The node has no block ${found.blockHash}, which its own log names.`);
  checkHeader(header);
  const receipts = await blockReceipts(rpc, header);
  const trie = receiptsTrie(receipts);
  if (trie.root !== header.receiptsRoot.toLowerCase()) {
    throw new ProofError("ReceiptsRootMismatch", `The node's receipts for block ${Number(header.number)} build the root ${trie.root}, not the header's receiptsRoot ${header.receiptsRoot}.`);
  }
  const position = receipts.findIndex((r) => r.transactionHash.toLowerCase() === found!.transactionHash.toLowerCase());
  if (position < 0) throw new ProofError("ReceiptMalformed", `Block ${found.blockHash} has no receipt for transaction ${found.transactionHash}, which the log names.`);
  const full = receipts[position];
  const logIndex = (full.logs as Array<{ logIndex?: string }>).findIndex((l) => Number(l.logIndex) === found!.index);
  if (logIndex < 0) throw new ProofError("ReceiptMalformed", `Transaction ${found.transactionHash}'s receipt has no log at block position ${found.index}.`);
  const receipt: ProvenReceipt = {
    ...(full.type !== undefined ? { type: full.type } : {}),
    ...(full.status !== undefined ? { status: full.status } : { root: full.root }),
    cumulativeGasUsed: full.cumulativeGasUsed,
    logsBloom: full.logsBloom,
    logs: full.logs.map((l) => ({ address: l.address.toLowerCase(), topics: l.topics.map((t) => t.toLowerCase()), data: l.data.toLowerCase() })),
    transactionIndex: full.transactionIndex,
    transactionHash: full.transactionHash.toLowerCase(),
  };
  return {
    format: MESSAGE_PROOF_FORMAT,
    manifest: {
      tool: options.tool ?? "@chainmail/audit",
      createdAt: new Date().toISOString(),
      chainId: location.chainId.toString(),
      registry: registry.toLowerCase(),
      digest: want,
      block: Number(header.number),
      blockHash: header.hash.toLowerCase(),
      transactionIndex: position,
      logIndex,
    },
    message: fieldsOf(location, { ...receipt.logs[logIndex], blockNumber: Number(header.number), blockHash: header.hash, transactionHash: receipt.transactionHash, index: found.index }),
    receipt,
    proof: trie.proof(receiptKey(position)),
    header,
  };
}

export interface VerifiedMessage {
  message: MessageFields;
  digest: string;
  chainId: string;
  registry: string;
  block: number;
  blockHash: string;
  /** What the verdict rests on, in words. */
  trusted: string;
  /** Said when the signature is not an ordinary account's (the registry checked it on-chain). */
  note?: string;
}

const refuse = (sentence: string): never => {
  throw new EvidenceError(sentence);
};

/** Checks a message proof with no network; throws EvidenceError naming the first thing that does not hold. */
export function verifyMessageProof(proof: MessageProof, checkpoint?: Checkpoint): VerifiedMessage {
  const { manifest, header, receipt, message } = proof;
  if (proof?.format !== MESSAGE_PROOF_FORMAT) refuse(`This is not a ${MESSAGE_PROOF_FORMAT} file (format ${JSON.stringify(proof?.format)}).`);
  for (const section of ["manifest", "message", "receipt", "proof", "header"] as const) {
    if (proof[section] === undefined || proof[section] === null) refuse(`The proof has no ${section} section.`);
  }
  // The header: its fields hash to its hash, which is the one the manifest and the checkpoint name.
  try {
    checkHeader(header);
  } catch (error) {
    if (error instanceof ProofError) refuse(`The header does not verify: ${error.message}`);
    throw error;
  }
  const blockHash = header.hash.toLowerCase();
  if (blockHash !== String(manifest.blockHash).toLowerCase() || Number(header.number) !== manifest.block) {
    refuse(`The header is block ${Number(header.number)} ${blockHash}, but the manifest says block ${manifest.block} ${manifest.blockHash}.`);
  }
  if (checkpoint) {
    if (checkpoint.block !== manifest.block) refuse(`The checkpoint is for block ${checkpoint.block}, but the message is in block ${manifest.block}; give that block's checkpoint.`);
    if (checkpoint.hash !== blockHash) refuse(`The header of block ${manifest.block} hashes to ${blockHash}, but the checkpoint says ${checkpoint.hash}.`);
  }
  // The receipt: proven under the header's receiptsRoot at rlp(transactionIndex).
  if (!Number.isSafeInteger(manifest.transactionIndex) || manifest.transactionIndex < 0 || Number(receipt.transactionIndex) !== manifest.transactionIndex) {
    refuse(`The receipt says transaction index ${receipt.transactionIndex}, the manifest ${manifest.transactionIndex}.`);
  }
  if (!Array.isArray(proof.proof)) refuse("The receipt proof is not a list of nodes.");
  let proven: string | null;
  let encoded: string;
  try {
    proven = verifyMptProof(header.receiptsRoot, receiptKey(manifest.transactionIndex), proof.proof, `The receipts-trie proof of transaction ${manifest.transactionIndex}`);
    encoded = encodeReceipt(receipt);
  } catch (error) {
    if (error instanceof ProofError) return refuse(error.message);
    throw error;
  }
  if (proven === null) refuse(`The receipts-trie proof shows no receipt at transaction index ${manifest.transactionIndex} of block ${manifest.block}.`);
  if (encoded !== proven!.toLowerCase()) {
    refuse(`The receipt differs from the one proven under block ${manifest.block}'s receiptsRoot at index ${manifest.transactionIndex}: it encodes to ${encoded.length / 2 - 1} bytes with keccak ${keccakShort(encoded)}, the proof holds ${proven!.length / 2 - 1} bytes with keccak ${keccakShort(proven!)}.`);
  }
  if (receipt.status === undefined || BigInt(receipt.status) !== 1n) refuse(`Transaction ${manifest.transactionIndex}'s receipt shows it failed (status ${receipt.status}); a failed transaction posts nothing.`);
  // The log: the registry's MessagePosted, holding exactly the message's fields.
  const log = receipt.logs[manifest.logIndex];
  if (!log) refuse(`The receipt has no log ${manifest.logIndex} (it has ${receipt.logs.length}).`);
  if (log.address.toLowerCase() !== String(manifest.registry).toLowerCase()) refuse(`Log ${manifest.logIndex} was emitted by ${log.address}, not by the registry ${manifest.registry}.`);
  if (log.topics[0]?.toLowerCase() !== MESSAGE_POSTED_TOPIC) refuse(`Log ${manifest.logIndex} is not a MessagePosted event (topic ${log.topics[0]}).`);
  let location: { chainId: bigint; address: string };
  try {
    location = { chainId: BigInt(manifest.chainId), address: manifest.registry };
  } catch {
    return refuse(`The manifest's chainId ${JSON.stringify(manifest.chainId)} is not a number.`);
  }
  let fromLog: MessageFields;
  let digest: string;
  try {
    const raw = { ...log, blockNumber: manifest.block, blockHash, transactionHash: receipt.transactionHash, index: manifest.logIndex };
    fromLog = fieldsOf(location, raw);
    digest = decodeMessagePosted(location, raw).digest.toLowerCase();
  } catch (error) {
    return refuse(`Log ${manifest.logIndex} does not decode as MessagePosted: ${(error as Error).message.split("\n")[0]}`);
  }
  const differ = (Object.keys(fromLog) as Array<keyof MessageFields>).filter((k) => String(fromLog[k]) !== String(message[k]));
  if (differ.length > 0 || Object.keys(message).length !== Object.keys(fromLog).length) {
    refuse(`The message's ${differ.join(", ") || "fields"} differ from the proven log's (${differ.map((k) => `${k}: log ${fromLog[k]}, file ${message[k]}`).join("; ")}).`);
  }
  if (digest !== String(manifest.digest).toLowerCase()) refuse(`The proven message's fields hash to digest ${digest} (chain ${manifest.chainId}, registry ${manifest.registry}), not to the manifest's ${manifest.digest}.`);
  const signer = recoverAuthor(location, { ...fromLog, timestamp: BigInt(fromLog.timestamp), replyTo: BigInt(fromLog.replyTo), nonce: BigInt(fromLog.nonce) }, digest);
  const note =
    signer?.toLowerCase() === fromLog.author.toLowerCase()
      ? undefined
      : `The signature does not recover to the author ${fromLog.author} (a contract wallet's EIP-1271 signature, which the registry checked when it posted the message); it is not re-checked offline.`;
  return {
    message: fromLog,
    digest,
    chainId: manifest.chainId,
    registry: manifest.registry,
    block: manifest.block,
    blockHash,
    trusted: checkpoint ? `the checkpoint ${checkpoint.block}:${checkpoint.hash} given by the auditor` : `the block hash ${blockHash} as the file gives it (give --checkpoint ${manifest.block}:HASH from a source you trust)`,
    note,
  };
}

const keccakShort = (hex: string) => keccak256(hex).slice(0, 18) + "…";

/** The verdict in words. */
export function messageProofText(v: VerifiedMessage): string {
  return [
    `Message proven: digest ${v.digest}`,
    `  seq ${v.message.seq} of channel ${channelName(v.message.channel)} by ${v.message.author}, posted by registry ${v.registry} on chain ${v.chainId}`,
    `  in block ${v.block} (${v.blockHash}): its receipt is in the block's receipts trie, the log in the receipt, the fields in the log.`,
    `  Trusted: ${v.trusted}.`,
    ...(v.note ? [`  Note: ${v.note}`] : []),
  ].join("\n");
}
