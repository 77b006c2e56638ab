/**
 * The ChainMail message protocol, in one place: EIP-712 domain and types, signing,
 * reason codes and content types (the digest, the head chain and signature recovery are
 * in digest.ts). The relayer, the Hardhat
 * tasks, the CLI, the mirror and the audit all import this module; the contract
 * (`contracts/MessageRegistry.sol`) is its on-chain twin, and tests hold the two equal
 * byte for byte.
 */
import {
  AbiCoder,
  concat,
  getAddress,
  hexlify,
  keccak256,
  Signature,
  toUtf8Bytes,
  ZeroHash,
  type BytesLike,
  type Signer,
  type TypedDataDomain,
  type TypedDataField,
} from "ethers";

/** The EIP-712 domain name and version the registry uses. */
export const DOMAIN_NAME = "ChainMail";
export const DOMAIN_VERSION = "1";

/** The EIP-712 type of a message. Field order is part of the protocol. */
export const MESSAGE_TYPES = {
  Message: [
    { name: "channel", type: "bytes32" },
    { name: "author", type: "address" },
    { name: "body", type: "bytes" },
    { name: "contentType", type: "uint8" },
    { name: "timestamp", type: "uint64" },
    { name: "replyTo", type: "uint64" },
    { name: "nonce", type: "uint256" },
  ],
} as const;

// ethers wants mutable arrays; the constant above stays readonly for everyone else.
const EIP712_TYPES = MESSAGE_TYPES as unknown as Record<string, TypedDataField[]>;

/** What an author signs. `replyTo` 0 means "not a reply". */
export interface Message {
  channel: string;
  author: string;
  body: string;
  contentType: number;
  timestamp: bigint;
  replyTo: bigint;
  nonce: bigint;
}

/** A message with its author's 65-byte signature, as `post`/`postBatch` take it. */
export interface SignedMessage extends Message {
  signature: string;
}

/** The registry a message is bound to: its chain and address. */
export interface RegistryLocation {
  chainId: bigint | number;
  address: string;
}

export function domainOf(registry: RegistryLocation): TypedDataDomain {
  return {
    name: DOMAIN_NAME,
    version: DOMAIN_VERSION,
    chainId: BigInt(registry.chainId),
    verifyingContract: getAddress(registry.address),
  };
}

/** The signed fields of a message, without anything else the object carries. */
export function messageFields(message: Message) {
  return {
    channel: message.channel,
    author: message.author,
    body: message.body,
    contentType: message.contentType,
    timestamp: message.timestamp,
    replyTo: message.replyTo,
    nonce: message.nonce,
  };
}

/** Signs `message` as its author. The signer's address must be `message.author`. */
export async function signMessage(
  signer: Signer,
  registry: RegistryLocation,
  message: Message,
): Promise<SignedMessage> {
  const signature = await signer.signTypedData(
    domainOf(registry),
    EIP712_TYPES,
    messageFields(message),
  );
  return { ...message, signature };
}

/** The zero head every channel starts from. */
export const GENESIS_HEAD = ZeroHash;

/** Why the registry refused a message; the numbers match `IMessageRegistry.Reason`. */
export const Reason = {
  None: 0,
  UnknownChannel: 1,
  ChannelClosed: 2,
  NotMember: 3,
  EmptyBody: 4,
  BodyTooLarge: 5,
  UnknownContentType: 6,
  TimestampInFuture: 7,
  MessageExpired: 8,
  UnknownReply: 9,
  NonceUsed: 10,
  BadSignature: 11,
} as const;
export type ReasonName = keyof typeof Reason;

const REASON_SENTENCES: Record<ReasonName, string> = {
  None: "The message was posted.",
  UnknownChannel: "The channel does not exist.",
  ChannelClosed: "The channel is closed and accepts no messages.",
  NotMember: "The author is not a member of the channel.",
  EmptyBody: "The message body is empty.",
  BodyTooLarge: "The message body is longer than the registry's limit.",
  UnknownContentType: "The content type is not one the registry accepts.",
  TimestampInFuture: "The message's timestamp is too far in the future.",
  MessageExpired: "The message is older than the registry's maximum age and has expired.",
  UnknownReply: "The message replies to a sequence number the channel does not have yet.",
  NonceUsed: "The author has already used this nonce: the message was posted before or is a replay.",
  BadSignature: "The signature is not the author's signature of this message on this registry and chain.",
};

export function reasonName(code: number): ReasonName {
  const entry = Object.entries(Reason).find(([, value]) => value === code);
  if (!entry) throw new Error(`Unknown rejection reason code ${code}.`);
  return entry[0] as ReasonName;
}

/** A person's sentence for a reason code or name. */
export function reasonSentence(reason: number | ReasonName): string {
  return REASON_SENTENCES[typeof reason === "number" ? reasonName(reason) : reason];
}

/** Content types the registry knows at deployment; admins may add more. */
export const CONTENT_TYPES = {
  "text/plain": 1,
  "application/json": 2,
  "application/octet-stream": 3,
} as const;
export type ContentTypeName = keyof typeof CONTENT_TYPES;

export function contentTypeCode(nameOrCode: string | number): number {
  if (typeof nameOrCode === "number" || /^\d+$/.test(nameOrCode)) {
    const code = Number(nameOrCode);
    if (!Number.isInteger(code) || code < 0 || code > 255) {
      throw new Error(`Content type ${nameOrCode} is not a number from 0 to 255.`);
    }
    return code;
  }
  const code = (CONTENT_TYPES as Record<string, number>)[nameOrCode];
  if (code === undefined) {
    throw new Error(`Unknown content type "${nameOrCode}"; use one of ${Object.keys(CONTENT_TYPES).join(", ")} or a number.`);
  }
  return code;
}

export function contentTypeName(code: number): string {
  const entry = Object.entries(CONTENT_TYPES).find(([, value]) => value === code);
  return entry ? entry[0] : `type ${code}`;
}

/**
 * Channel ids are bytes32. A name of up to 31 UTF-8 bytes is stored as the id itself
 * (readable in every log); a 0x-prefixed 32-byte hex string is taken as an id.
 */
export function channelId(nameOrId: string): string {
  if (/^0x[0-9a-fA-F]{64}$/.test(nameOrId)) return nameOrId.toLowerCase();
  const bytes = toUtf8Bytes(nameOrId);
  if (bytes.length === 0) throw new Error("A channel name cannot be empty.");
  if (bytes.length > 31) throw new Error(`Channel name "${nameOrId}" is longer than 31 bytes; use a 0x-prefixed 32-byte id instead.`);
  return hexlify(concat([bytes, new Uint8Array(32 - bytes.length)]));
}

/** The readable name of a channel id, or the id itself when it is not a short name. */
export function channelName(id: string): string {
  const bytes = Buffer.from(id.slice(2), "hex");
  const end = bytes.indexOf(0);
  const used = end === -1 ? bytes : bytes.subarray(0, end);
  const trailingZeros = end === -1 || bytes.subarray(end).every((b) => b === 0);
  const text = used.toString("utf8");
  const printable = used.length > 0 && trailingZeros && /^[\x20-\x7e]+$/.test(text);
  return printable ? text : id;
}

/** Body helpers: UTF-8 text to hex bytes and back. */
export function bodyFromText(text: string): string {
  return hexlify(toUtf8Bytes(text));
}

export function bodyToText(body: BytesLike): string {
  return Buffer.from(hexlify(body).slice(2), "hex").toString("utf8");
}

/** The role ids the registry derives from a channel id (`memberRole`, `adminRole`). */
export function memberRoleOf(channel: string): string {
  return keccak256(AbiCoder.defaultAbiCoder().encode(["bytes32", "string"], [channel, "MEMBER"]));
}

export function adminRoleOf(channel: string): string {
  return keccak256(AbiCoder.defaultAbiCoder().encode(["bytes32", "string"], [channel, "ADMIN"]));
}

/**
 * A random nonce alone in its bitmap word: every such message pays a fresh storage word
 * (20,000 gas). Signing code uses `nextNonce` (nonces.ts) instead; this stays for tests
 * that want unrelated nonces.
 */
export function randomNonce(): bigint {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return BigInt(hexlify(bytes));
}

/** The most a nonce may be: the contract's `uint256`. */
export const MAX_NONCE = (1n << 256n) - 1n;

/**
 * Groups nonces into the registry's bitmap words for `invalidateUnorderedNonces(word, mask)`:
 * nonce n is bit n & 0xff of word n >> 8, so nonces sharing a word cost one transaction.
 */
export function nonceWords(nonces: readonly bigint[]): Array<{ word: bigint; mask: bigint }> {
  const masks = new Map<bigint, bigint>();
  for (const nonce of nonces) {
    if (nonce < 0n || nonce > MAX_NONCE) throw new RangeError(`Nonce ${nonce} is not a uint256.`);
    const word = nonce >> 8n;
    masks.set(word, (masks.get(word) ?? 0n) | (1n << (nonce & 0xffn)));
  }
  return [...masks].map(([word, mask]) => ({ word, mask }));
}

/** Splits a signature for tools that want r, s, v. */
export function splitSignature(signature: string): { r: string; s: string; v: number } {
  const sig = Signature.from(signature);
  return { r: sig.r, s: sig.s, v: sig.v };
}

/** The reason behind one of the registry's custom errors from `post`, if it is a message check. */
export function reasonOfError(errorName: string): ReasonName | undefined {
  if (errorName === "ChannelIsClosed") return "ChannelClosed";
  return errorName in Reason && errorName !== "None" ? (errorName as ReasonName) : undefined;
}
