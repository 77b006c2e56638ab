/**
 * The digest, the next head and the signature rule: the protocol's hashing, on bytes. Everything that hashes messages uses these (the relayer hashes every message
 * it receives, the audit every message on the chain, tail every event it reads): the
 * domain separator and type hash are computed once per registry, and each message is
 * hashed with fixed-layout encoding instead of ethers' generic TypedDataEncoder and
 * AbiCoder (about ten times faster). Those generic encoders are the reference, kept in
 * packages/protocol/test, where tests hold these functions equal to them.
 */
import { keccak_256 } from "@noble/hashes/sha3.js";
import { getBytes, recoverAddress, TypedDataEncoder } from "ethers";
import { domainOf, MESSAGE_TYPES, type Message, type RegistryLocation, type SignedMessage } from "./messages.js";

/** keccak256 of the `Message(...)` type string: the contract's MESSAGE_TYPEHASH. */
export const MESSAGE_TYPEHASH: Uint8Array = keccak_256(
  new TextEncoder().encode(
    TypedDataEncoder.from(MESSAGE_TYPES as unknown as Record<string, Array<{ name: string; type: string }>>).encodeType(
      "Message",
    ),
  ),
);

/** 0x1901 || domainSeparator: the constant start of every digest under `registry`. */
export function digestPrefix(registry: RegistryLocation): Uint8Array {
  const prefix = new Uint8Array(34);
  prefix.set([0x19, 0x01], 0);
  prefix.set(getBytes(TypedDataEncoder.hashDomain(domainOf(registry))), 2);
  return prefix;
}

// Registries are few and the domain separator is the costly part of a digest: one each.
const prefixes = new Map<string, Uint8Array>();

function cachedPrefix(registry: RegistryLocation): Uint8Array {
  const key = `${registry.chainId}:${registry.address.toLowerCase()}`;
  let prefix = prefixes.get(key);
  if (!prefix) prefixes.set(key, (prefix = digestPrefix(registry)));
  return prefix;
}

/**
 * The EIP-712 digest from the encoded words: keccak256(prefix || keccak256(TYPEHASH ||
 * channel || author || keccak256(body) || scalars)), where `scalars` is the four words
 * contentType, timestamp, replyTo, nonce. `digestOf` fills them from a message; the log
 * decoder passes the log's own words.
 */
export function digestOfWords(prefix: Uint8Array, channelWord: Uint8Array, authorWord: Uint8Array, body: Uint8Array, scalars: Uint8Array): Uint8Array {
  const struct = new Uint8Array(8 * 32);
  struct.set(MESSAGE_TYPEHASH, 0);
  struct.set(channelWord, 32);
  struct.set(authorWord, 64);
  struct.set(keccak_256(body), 96);
  struct.set(scalars, 128);
  const preimage = new Uint8Array(66);
  preimage.set(prefix, 0);
  preimage.set(keccak_256(struct), 34);
  return keccak_256(preimage);
}

/** Writes `value` big-endian into the 32-byte word that ends at `end` (exclusive) of `out`; refuses what does not fit in `bits`. */
export function writeUint(out: Uint8Array, end: number, value: bigint, bits: number, what: string): void {
  if (value < 0n || value >> BigInt(bits) !== 0n) throw new RangeError(`${what} ${value} does not fit in uint${bits}.`);
  let rest = value;
  for (let i = end - 1; i >= end - 32 && rest > 0n; i--) {
    out[i] = Number(rest & 0xffn);
    rest >>= 8n;
  }
}

/** 0x hex as bytes. Buffer's decoder is many times faster than ethers' getBytes; it stops at the first non-hex character, which the length check catches. */
function hexBytes(hex: string, what: string): Uint8Array {
  const bytes = typeof hex === "string" && hex.startsWith("0x") ? Buffer.from(hex.slice(2), "hex") : undefined;
  if (!bytes || bytes.length * 2 !== hex.length - 2) throw new TypeError(`${what} is not 0x-prefixed hex bytes.`);
  return bytes;
}

/** 0x hex of exactly `length` bytes, as bytes; a shorter or longer value would shift the encoding. */
function fixedBytes(hex: string, length: number, what: string): Uint8Array {
  const bytes = hexBytes(hex, what);
  if (bytes.length !== length) throw new RangeError(`${what} is ${bytes.length} bytes, not ${length}.`);
  return bytes;
}

function toHex(bytes: Uint8Array): string {
  return "0x" + Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("hex");
}

/**
 * The EIP-712 digest the author signs and the registry recomputes. (Unlike ethers'
 * encoder it does not insist on a correct mixed-case checksum in `author`: the address
 * bytes are what is signed.)
 */
export function digestOf(registry: RegistryLocation, message: Message): string {
  const author = new Uint8Array(32);
  author.set(fixedBytes(message.author, 20, "author"), 12);
  const scalars = new Uint8Array(4 * 32);
  writeUint(scalars, 32, BigInt(message.contentType), 8, "contentType");
  writeUint(scalars, 64, BigInt(message.timestamp), 64, "timestamp");
  writeUint(scalars, 96, BigInt(message.replyTo), 64, "replyTo");
  writeUint(scalars, 128, BigInt(message.nonce), 256, "nonce");
  return toHex(digestOfWords(cachedPrefix(registry), fixedBytes(message.channel, 32, "channel"), author, hexBytes(message.body, "body"), scalars));
}

/** head_n = keccak256(abi.encode(head_{n-1}, digest_n, n)). */
export function nextHead(previousHead: string, digest: string, seq: bigint | number): string {
  const buffer = new Uint8Array(96);
  buffer.set(fixedBytes(previousHead, 32, "previous head"), 0);
  buffer.set(fixedBytes(digest, 32, "digest"), 32);
  writeUint(buffer, 96, BigInt(seq), 256, "seq");
  return toHex(keccak_256(buffer));
}

/**
 * The address that signed `message` under `registry`, or null when the signature is
 * not a canonical 65-byte ECDSA signature (high-s and malformed ones are refused, as
 * the contract refuses them). Pass `digest` when it is already computed.
 */
export function recoverAuthor(registry: RegistryLocation, message: SignedMessage, digest?: string): string | null {
  if (!isCanonicalSignature(message.signature)) return null;
  try {
    return recoverAddress(digest ?? digestOf(registry, message), message.signature);
  } catch {
    return null;
  }
}

const SECP256K1_HALF_N = getBytes("0x7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0");

/** 65 bytes, v 27/28, s in the lower half: what OpenZeppelin's ECDSA accepts (high-s twins are refused). */
export function isCanonicalSignatureBytes(signature: Uint8Array): boolean {
  if (signature.length !== 65) return false;
  const v = signature[64];
  if (v !== 27 && v !== 28) return false;
  for (let i = 0; i < 32; i++) {
    const a = signature[32 + i];
    const b = SECP256K1_HALF_N[i];
    if (a !== b) return a < b;
  }
  return true;
}

/** The same rule on 0x hex. */
export function isCanonicalSignature(signature: string): boolean {
  return /^0x[0-9a-fA-F]{130}$/.test(signature) && isCanonicalSignatureBytes(hexBytes(signature, "signature"));
}
