/**
 * A fast digest for one registry: the EIP-712 domain separator and the type hash are
 * computed once, and each message is hashed with fixed-layout encoding instead of
 * ethers' generic TypedDataEncoder (about ten times faster; the relayer hashes every
 * message it receives). Must equal `digestOf` for every message: tested.
 */
import { keccak_256 } from "@noble/hashes/sha3.js";
import { getBytes, hexlify, TypedDataEncoder } from "ethers";
import { domainOf, MESSAGE_TYPES, type Message, type RegistryLocation } from "./messages.js";

function word(value: bigint): Uint8Array {
  const out = new Uint8Array(32);
  let v = value;
  for (let i = 31; i >= 0 && v > 0n; i--) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
}

/** `(message) => digest`, equal to `digestOf(registry, message)`. */
export function messageDigester(registry: RegistryLocation): (message: Message) => string {
  const domainSeparator = getBytes(TypedDataEncoder.hashDomain(domainOf(registry)));
  const typeHash = keccak_256(
    new TextEncoder().encode(
      TypedDataEncoder.from(MESSAGE_TYPES as unknown as Record<string, Array<{ name: string; type: string }>>).encodeType("Message"),
    ),
  );
  return (message: Message): string => {
    const struct = new Uint8Array(32 * 8);
    struct.set(typeHash, 0);
    struct.set(getBytes(message.channel), 32);
    struct.set(getBytes(message.author), 64 + 12);
    struct.set(keccak_256(getBytes(message.body)), 96);
    struct.set(word(BigInt(message.contentType)), 128);
    struct.set(word(BigInt(message.timestamp)), 160);
    struct.set(word(BigInt(message.replyTo)), 192);
    struct.set(word(BigInt(message.nonce)), 224);
    const envelope = new Uint8Array(66);
    envelope[0] = 0x19;
    envelope[1] = 0x01;
    envelope.set(domainSeparator, 2);
    envelope.set(keccak_256(struct), 34);
    return hexlify(keccak_256(envelope));
  };
}
