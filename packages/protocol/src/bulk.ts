/**
 * Reading `MessagePosted` logs: the one decoder (`decodeMessagePosted` and the bulk
 * `MessagePostedDecoder` are the same code), computed on bytes, with the digest taken
 * straight from the log's fields (`digestOfWords`). The audit verifies whole histories
 * with it.
 *
 * The log's data is packed, not ABI-encoded (IMessageRegistry.MessagePosted, README
 * "MessagePosted"): contentType 1 byte, timestamp 8, R 1, replyTo R (0-8), N 1, nonce N
 * (0-32), head 32, signature length 2, signature, body (the rest). A log that does not
 * have that exact shape (wrong topics, too short, a length over its type's, a signature
 * running past the end) is refused, because
 * a verifier must not guess at a forged log.
 */
import { getAddress, type Log } from "ethers";
import { MESSAGE_POSTED_TOPIC, minimalLength } from "./registry.js";
import type { PostedMessage } from "./registry.js";
import type { SignedMessage } from "./messages.js";
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

const ADDRESS_TOPIC = /^0x0{24}[0-9a-fA-F]{40}$/;
const UINT64_TOPIC = /^0x0{48}[0-9a-fA-F]{16}$/;

function zeroes(bytes: Uint8Array, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (bytes[i] !== 0) return false;
  return true;
}

/** Offsets in the packed MessagePosted data (see the module comment). */
export const MESSAGE_POSTED_LAYOUT = {
  contentType: 0,
  timestamp: 1,
  replyToLength: 9,
  /** The fixed part: contentType, timestamp, R, N, head and the signature's length (R = N = 0). */
  minimum: 45,
} as const;

/**
 * Where each field of a MessagePosted log's data lies (README "MessagePosted, byte by
 * byte"): replyTo and nonce have a length byte each, so everything after them moves.
 * MalformedLogError if the data is too short for the lengths it gives.
 */
export function messagePostedOffsets(data: Uint8Array) {
  const L = MESSAGE_POSTED_LAYOUT;
  if (data.length < L.minimum) throw new MalformedLogError("The MessagePosted data is too short.");
  const replyToLength = data[L.replyToLength];
  if (replyToLength > 8) throw new MalformedLogError("replyTo is longer than 8 bytes.");
  const replyTo = L.replyToLength + 1;
  const nonceLengthAt = replyTo + replyToLength;
  const nonceLength = data[nonceLengthAt];
  if (nonceLength > 32) throw new MalformedLogError("The nonce is longer than 32 bytes.");
  const nonce = nonceLengthAt + 1;
  const head = nonce + nonceLength;
  const signatureLength = head + 32;
  const signature = signatureLength + 2;
  if (data.length < signature) throw new MalformedLogError("The MessagePosted data is too short.");
  return { replyTo, replyToLength, nonce, nonceLength, head, signatureLength, signature };
}

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
    const at = messagePostedOffsets(data);
    const signatureLength = (data[at.signatureLength] << 8) | data[at.signatureLength + 1];
    const bodyStart = at.signature + signatureLength;
    if (bodyStart > data.length) throw new MalformedLogError("The signature runs past the end of the MessagePosted data.");
    const signature = data.subarray(at.signature, bodyStart);
    const body = data.subarray(bodyStart);
    // The four ABI words the EIP-712 struct hash takes: contentType, timestamp, replyTo, nonce
    // (replyTo and nonce right-aligned in their words: the log drops their leading zeros).
    const scalars = new Uint8Array(128);
    scalars[31] = data[L.contentType];
    scalars.set(data.subarray(L.timestamp, L.timestamp + 8), 56);
    scalars.set(data.subarray(at.replyTo, at.replyTo + at.replyToLength), 96 - at.replyToLength);
    scalars.set(data.subarray(at.nonce, at.nonce + at.nonceLength), 128 - at.nonceLength);
    const digest = digestOfWords(this.prefix, channelWord, authorWord, body, scalars);
    const head = data.subarray(at.head, at.head + 32);
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

  /**
   * A log of a message the caller already knows, recognised without hashing: `find` is
   * asked for the message the log names (its author, lowercase, and nonce), and the log
   * must carry that message byte for byte (every field the digest covers, and the
   * signature). Then the PostedMessage is what `decode` would return, with the digest the
   * caller knows and the author spelt as the caller's message spells it. Undefined for any
   * other log: decode that in full. Why: the relayer settling its own batch knows each
   * message's digest, and recomputing it from the log (three keccaks and a checksum) was
   * about 12% of its CPU in a gRPC run (profiled).
   */
  recognise<T extends { message: SignedMessage; digest: string }>(log: BulkLog, find: (author: string, nonce: bigint) => T | undefined): { known: T; posted: PostedMessage } | undefined {
    if (log.topics.length !== 4 || log.topics[0].toLowerCase() !== MESSAGE_POSTED_TOPIC) return undefined;
    if (!ADDRESS_TOPIC.test(log.topics[3]) || !UINT64_TOPIC.test(log.topics[2])) return undefined;
    let data: Uint8Array;
    let at: ReturnType<typeof messagePostedOffsets>;
    try {
      data = hexToBytes(log.data);
      at = messagePostedOffsets(data);
    } catch {
      return undefined;
    }
    const nonce = at.nonceLength === 0 ? 0n : BigInt(toHex(data.subarray(at.nonce, at.nonce + at.nonceLength)));
    const known = find("0x" + log.topics[3].slice(26).toLowerCase(), nonce);
    if (!known) return undefined;
    const seq = BigInt(log.topics[2]);
    const head = toHex(data.subarray(at.head, at.head + 32));
    const expected = encodeMessagePosted({ ...known.message, seq, head });
    if (expected.data !== log.data.toLowerCase() || expected.topics.some((topic, i) => topic !== log.topics[i].toLowerCase())) return undefined;
    const m = known.message;
    return {
      known,
      posted: {
        channel: m.channel.toLowerCase(),
        author: m.author,
        body: m.body.toLowerCase(),
        contentType: m.contentType,
        timestamp: m.timestamp,
        replyTo: m.replyTo,
        nonce: m.nonce,
        signature: m.signature.toLowerCase(),
        seq,
        head,
        digest: known.digest.toLowerCase(),
        blockNumber: Number(log.blockNumber),
        blockHash: log.blockHash,
        transactionHash: log.transactionHash,
        logIndex: Number(log.index ?? log.logIndex ?? 0),
      },
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
      "0x" +
      hex(f.contentType, 1) +
      hex(f.timestamp, 8) +
      hex(minimalLength(f.replyTo), 1) +
      (BigInt(f.replyTo) === 0n ? "" : hex(f.replyTo, minimalLength(f.replyTo))) +
      hex(minimalLength(f.nonce), 1) +
      (BigInt(f.nonce) === 0n ? "" : hex(f.nonce, minimalLength(f.nonce))) +
      raw(f.head) +
      hex(signature.length / 2, 2) +
      signature +
      raw(f.body),
  };
}
