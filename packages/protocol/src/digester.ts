/**
 * The EIP-712 digest on bytes, for the hot paths (the relayer hashes every message it
 * receives, the audit every message on the chain): the domain separator and type hash
 * are computed once, and each message is hashed with fixed-layout encoding instead of
 * ethers' generic TypedDataEncoder (about ten times faster). `digestOf` stays the
 * reference; tests hold these equal to it.
 */
import { keccak_256 } from "@noble/hashes/sha3.js";
import { getBytes, hexlify, TypedDataEncoder } from "ethers";
import { domainOf, MESSAGE_TYPES, type Message, type RegistryLocation } from "./messages.js";

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

/** keccak256(prefix || keccak256(struct)), where `struct` is the 8-word encoded message. */
export function digestOfStruct(prefix: Uint8Array, struct: Uint8Array): Uint8Array {
  const preimage = new Uint8Array(66);
  preimage.set(prefix, 0);
  preimage.set(keccak_256(struct), 34);
  return keccak_256(preimage);
}

/** Writes `value` big-endian into the 32-byte word that ends at `end` (exclusive) of `out`. */
export function writeUint(out: Uint8Array, end: number, value: bigint): void {
  let rest = value;
  for (let i = end - 1; i >= end - 32 && rest > 0n; i--) {
    out[i] = Number(rest & 0xffn);
    rest >>= 8n;
  }
}

/** `(message) => digest`, equal to `digestOf(registry, message)`. */
export function messageDigester(registry: RegistryLocation): (message: Message) => string {
  const prefix = digestPrefix(registry);
  return (message: Message): string => {
    const struct = new Uint8Array(32 * 8);
    struct.set(MESSAGE_TYPEHASH, 0);
    struct.set(getBytes(message.channel), 32);
    struct.set(getBytes(message.author), 64 + 12);
    struct.set(keccak_256(getBytes(message.body)), 96);
    writeUint(struct, 160, BigInt(message.contentType));
    writeUint(struct, 192, BigInt(message.timestamp));
    writeUint(struct, 224, BigInt(message.replyTo));
    writeUint(struct, 256, BigInt(message.nonce));
    return hexlify(digestOfStruct(prefix, struct));
  };
}
