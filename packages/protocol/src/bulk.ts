/**
 * Reading `MessagePosted` logs: the one decoder (`decodeMessagePosted` and the bulk
 * `MessagePostedDecoder` are the same code), computed on bytes, with the digest taken
 * straight from the log's fields (`digestOfWords`). The audit verifies whole histories
 * with it.
 *
 * The log's data is packed, not ABI-encoded (IMessageRegistry.MessagePosted, README
 * "MessagePosted"): contentType 1 byte, timestamp 8, replyTo 8, nonce 32, head 32,
 * signature length 2, signature, body (the rest). A log that does not have that exact
 * shape (wrong topics, too short, a signature running past the end) is refused, because
 * a verifier must not guess at a forged log.
 */
import { getAddress, type Log } from "ethers";
import { MESSAGE_POSTED_TOPIC } from "./registry.js";
import type { PostedMessage } from "./registry.js";
import { digestOfWords, digestPrefix } from "./digest.js";
import type { RegistryLocation } from "./messages.js";

/** Thrown for a log that is not a well-formed `MessagePosted` log. */
export class MalformedLogError extends Error {}

export interface BulkLog {
  topics: readonly string[];
  data: string;
  blockNumber: number | bigint;
  blockHash: string;
  transactionHash: string;
  index?: number;
  logIndex?: number;
}

function hexToBytes(hex: string): Uint8Array {
  // Buffer.from stops at the first non-hex character: a length check catches that.
  const bytes = Buffer.from(hex.slice(2), "hex");
  if (!hex.startsWith("0x") || bytes.length * 2 !== hex.length - 2) {
    throw new MalformedLogError(`"${hex.slice(0, 20)}…" is not 0x-prefixed hex bytes.`);
  }
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function toHex(bytes: Uint8Array): string {
  return "0x" + Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("hex");
}

function zeroes(bytes: Uint8Array, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (bytes[i] !== 0) return false;
  return true;
}

/** Offsets in the packed MessagePosted data (see the module comment). */
export const MESSAGE_POSTED_LAYOUT = {
  contentType: 0,
  timestamp: 1,
  replyTo: 9,
  nonce: 17,
  head: 49,
  signatureLength: 81,
  signature: 83,
} as const;

/**
 * What the audit needs from a `MessagePosted` log, without the conversions it does not
 * need (no checksummed address, no bigints for timestamp/nonce): hex strings are sliced
 * straight from the log, digest and signature are also kept as bytes for recovery.
 */
export interface LeanPosted {
  channel: string;
  seq: bigint;
  /** Lowercase author address. */
  author: string;
  head: string;
  digest: string;
  digestBytes: Uint8Array;
  signatureBytes: Uint8Array;
}

/**
 * A decoder bound to one registry (its EIP-712 domain separator is computed once).
 * `decode` returns exactly what `decodeMessagePosted` returns for the same log; `lean`
 * returns the subset the audit verifies, faster.
 */
export class MessagePostedDecoder {
  private readonly prefix: Uint8Array;

  constructor(readonly registry: RegistryLocation) {
    this.prefix = digestPrefix(registry);
  }

  /** Checks the layout and recomputes the digest; returns the parts both decoders share. */
  private parse(log: BulkLog) {
    if (log.topics.length !== 4 || log.topics[0].toLowerCase() !== MESSAGE_POSTED_TOPIC) {
      throw new MalformedLogError("The log is not a MessagePosted log (wrong topics).");
    }
    const channelWord = hexToBytes(log.topics[1]);
    const seqWord = hexToBytes(log.topics[2]);
    const authorWord = hexToBytes(log.topics[3]);
    if (channelWord.length !== 32 || seqWord.length !== 32 || authorWord.length !== 32) {
      throw new MalformedLogError("A MessagePosted topic is not 32 bytes.");
    }
    if (!zeroes(authorWord, 0, 12)) throw new MalformedLogError("The author topic is not an address.");
    if (!zeroes(seqWord, 0, 24)) throw new MalformedLogError("seq does not fit in uint64.");
    const data = hexToBytes(log.data);
    const L = MESSAGE_POSTED_LAYOUT;
    if (data.length < L.signature) throw new MalformedLogError("The MessagePosted data is too short.");
    const signatureLength = (data[L.signatureLength] << 8) | data[L.signatureLength + 1];
    const bodyStart = L.signature + signatureLength;
    if (bodyStart > data.length) throw new MalformedLogError("The signature runs past the end of the MessagePosted data.");
    const signature = data.subarray(L.signature, bodyStart);
    const body = data.subarray(bodyStart);
    // The four ABI words the EIP-712 struct hash takes: contentType, timestamp, replyTo, nonce.
    const scalars = new Uint8Array(128);
    scalars[31] = data[L.contentType];
    scalars.set(data.subarray(L.timestamp, L.timestamp + 8), 56);
    scalars.set(data.subarray(L.replyTo, L.replyTo + 8), 88);
    scalars.set(data.subarray(L.nonce, L.nonce + 32), 96);
    const digest = digestOfWords(this.prefix, channelWord, authorWord, body, scalars);
    const head = data.subarray(L.head, L.head + 32);
    return { channelWord, seqWord, authorWord, data, scalars, head, body, signature, digest };
  }

  lean(log: BulkLog): LeanPosted {
    const p = this.parse(log);
    return {
      channel: toHex(p.channelWord),
      seq: BigInt(toHex(p.seqWord)),
      author: toHex(p.authorWord.subarray(12)),
      head: toHex(p.head),
      digest: toHex(p.digest),
      digestBytes: p.digest,
      signatureBytes: p.signature,
    };
  }

  decode(log: BulkLog): PostedMessage {
    const p = this.parse(log);
    return {
      channel: toHex(p.channelWord),
      author: getAddress(toHex(p.authorWord.subarray(12))),
      body: toHex(p.body),
      contentType: p.scalars[31],
      timestamp: BigInt(toHex(p.scalars.subarray(32, 64))),
      replyTo: BigInt(toHex(p.scalars.subarray(64, 96))),
      nonce: BigInt(toHex(p.scalars.subarray(96, 128))),
      signature: toHex(p.signature),
      seq: BigInt(toHex(p.seqWord)),
      head: toHex(p.head),
      digest: toHex(p.digest),
      blockNumber: Number(log.blockNumber),
      blockHash: log.blockHash,
      transactionHash: log.transactionHash,
      logIndex: Number(log.index ?? log.logIndex ?? 0),
    };
  }
}

type RawLog = Pick<Log, "topics" | "data" | "blockNumber" | "blockHash" | "transactionHash"> & {
  index?: number;
  logIndex?: number;
};

/** Decodes a `MessagePosted` log and recomputes its digest for `registry`; MalformedLogError if it is not one. */
export function decodeMessagePosted(registry: RegistryLocation, log: RawLog): PostedMessage {
  return new MessagePostedDecoder(registry).decode(log);
}

/** The fields a `MessagePosted` log carries (its topics and packed data). */
export interface MessagePostedFields {
  channel: string;
  seq: bigint;
  author: string;
  contentType: number;
  timestamp: bigint;
  replyTo: bigint;
  nonce: bigint;
  head: string;
  signature: string;
  body: string;
}

/**
 * The topics and data the registry emits for these fields: the inverse of the decoder,
 * byte for byte the contract's layout (tests forge and re-encode logs with it).
 */
export function encodeMessagePosted(f: MessagePostedFields): { topics: string[]; data: string } {
  const hex = (value: bigint | number, bytes: number) => BigInt(value).toString(16).padStart(2 * bytes, "0");
  const raw = (value: string) => value.slice(2).toLowerCase();
  const signature = raw(f.signature);
  return {
    topics: [MESSAGE_POSTED_TOPIC, f.channel.toLowerCase(), "0x" + hex(f.seq, 32), "0x" + hex(BigInt(f.author), 32)],
    data:
      "0x" + hex(f.contentType, 1) + hex(f.timestamp, 8) + hex(f.replyTo, 8) + hex(f.nonce, 32) + raw(f.head) + hex(signature.length / 2, 2) + signature + raw(f.body),
  };
}
