/**
 * The reference implementations of the protocol's hashing: ethers' generic EIP-712 and
 * ABI encoders, written the way the EIP and the contract read. Production code uses the
 * byte-level functions in src/digest.ts; these live here only so that tests can hold the
 * two equal.
 */
import { AbiCoder, keccak256, TypedDataEncoder, verifyTypedData, type TypedDataField } from "ethers";
import { domainOf, messageFields, MESSAGE_TYPES, type Message, type RegistryLocation, type SignedMessage } from "../src/index.js";

/** The EIP-712 digest through ethers' TypedDataEncoder. */
export function digestOfReference(registry: RegistryLocation, message: Message): string {
  return TypedDataEncoder.hash(domainOf(registry), MESSAGE_TYPES as unknown as Record<string, TypedDataField[]>, messageFields(message));
}

/** head_n = keccak256(abi.encode(head_{n-1}, digest_n, n)) through ethers' AbiCoder. */
export function nextHeadReference(previousHead: string, digest: string, seq: bigint | number): string {
  return keccak256(AbiCoder.defaultAbiCoder().encode(["bytes32", "bytes32", "uint256"], [previousHead, digest, seq]));
}

const SECP256K1_HALF_N = 0x7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0n;

/** OpenZeppelin ECDSA's acceptance rule on hex, with bigints: 65 bytes, v 27/28, s <= n/2. */
export function isCanonicalSignatureReference(signature: string): boolean {
  if (!/^0x[0-9a-fA-F]{130}$/.test(signature)) return false;
  const s = BigInt("0x" + signature.slice(66, 130));
  const v = parseInt(signature.slice(130, 132), 16);
  return s <= SECP256K1_HALF_N && (v === 27 || v === 28);
}

/** The signer through ethers' verifyTypedData, refusing what OpenZeppelin refuses. */
export function recoverAuthorReference(registry: RegistryLocation, message: SignedMessage): string | null {
  if (!isCanonicalSignatureReference(message.signature)) return null;
  try {
    return verifyTypedData(domainOf(registry), MESSAGE_TYPES as unknown as Record<string, TypedDataField[]>, messageFields(message), message.signature);
  } catch {
    return null;
  }
}
