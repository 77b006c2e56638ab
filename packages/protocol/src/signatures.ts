/**
 * Who signed a digest: secp256k1 public-key recovery behind one small interface, with
 * three interchangeable implementations so the audit can use the fastest sound one and
 * the benchmark can compare them in the same run.
 *
 * - "native": libsecp256k1 (bitcoin-core's C library) through the npm package
 *   `secp256k1`, which ships a prebuilt N-API binary for linux-x64. Loaded through its
 *   `bindings.js` only: the package's own fallback is the `elliptic` JS library, which
 *   we do not want to use silently.
 * - "noble": @noble/curves v2 (audited pure JS).
 * - "ethers": ethers' `recoverAddress` (the reference the protocol module uses).
 *
 * Every implementation first applies the protocol's canonical-signature rule
 * (`isCanonicalSignatureBytes`: 65 bytes, v 27/28, low s), exactly as the contract does,
 * so they accept and refuse the same signatures.
 */
import { createRequire } from "node:module";
import { secp256k1 } from "@noble/curves/secp256k1.js";
import { keccak_256 } from "@noble/hashes/sha3.js";
import { hexlify, recoverAddress } from "ethers";
import { isCanonicalSignatureBytes } from "./digest.js";

export type RecoveryBackendName = "native" | "noble" | "ethers";

/** Recovers the lowercase 0x address that signed `digest`, or null for a refused signature. */
export type RecoverSigner = (digest: Uint8Array, signature: Uint8Array) => string | null;

function bytes(hex: string): Uint8Array {
  return Buffer.from(hex.slice(2), "hex");
}

/** The same, on 0x hex strings. */
export function recoverHex(recover: RecoverSigner, digest: string, signature: string): string | null {
  if (!/^0x(?:[0-9a-fA-F]{2})*$/.test(signature) || !/^0x[0-9a-fA-F]{64}$/.test(digest)) return null;
  return recover(bytes(digest), bytes(signature));
}

function addressOfPublicKey(uncompressed: Uint8Array): string {
  return "0x" + Buffer.from(keccak_256(uncompressed.subarray(1)).subarray(12)).toString("hex");
}

interface NativeSecp256k1 {
  ecdsaRecover(signature: Uint8Array, recid: number, message: Uint8Array, compressed: boolean): Uint8Array;
}

let nativeModule: NativeSecp256k1 | null | undefined;

/** libsecp256k1's binding, or null when no prebuilt binary fits this platform. */
export function loadNative(): NativeSecp256k1 | null {
  if (nativeModule === undefined) {
    try {
      nativeModule = createRequire(import.meta.url)("secp256k1/bindings.js") as NativeSecp256k1;
    } catch {
      nativeModule = null;
    }
  }
  return nativeModule;
}

function guard(recover: (digest: Uint8Array, sig: Uint8Array) => string): RecoverSigner {
  return (digest, signature) => {
    if (!isCanonicalSignatureBytes(signature)) return null;
    try {
      return recover(digest, signature);
    } catch {
      return null; // r or s out of range, or no point with that x: not a signature.
    }
  };
}

export function recoveryBackend(name: RecoveryBackendName): RecoverSigner {
  switch (name) {
    case "native": {
      const native = loadNative();
      if (!native) throw new Error("The native libsecp256k1 binding (npm package secp256k1) cannot be loaded here.");
      return guard((digest, sig) => addressOfPublicKey(native.ecdsaRecover(sig.subarray(0, 64), sig[64] - 27, digest, false)));
    }
    case "noble":
      return guard((digest, sig) => {
        // noble's recovered format: recovery bit first, then r || s.
        const recovered = new Uint8Array(65);
        recovered[0] = sig[64] - 27;
        recovered.set(sig.subarray(0, 64), 1);
        const point = secp256k1.Signature.fromBytes(recovered, "recovered").recoverPublicKey(digest);
        return addressOfPublicKey(point.toBytes(false));
      });
    case "ethers":
      // ethers takes a signature as hex or {r, s, v}, not bytes.
      return guard((digest, sig) => recoverAddress(digest, hexlify(sig)).toLowerCase());
  }
}

/** The fastest backend available here: native when its binary loads, else noble. */
export function defaultRecoveryBackend(): RecoveryBackendName {
  return loadNative() ? "native" : "noble";
}

let fastest: RecoverSigner | undefined;

/**
 * The default backend, made once: for checkers that recover every message they pass on
 * (Subscribe streams, tail). ethers' recovery, behind the browser-safe `recoverAuthor`,
 * costs 2-3 ms a message; libsecp256k1 about 70 µs.
 */
export function fastestRecovery(): RecoverSigner {
  return (fastest ??= recoveryBackend(defaultRecoveryBackend()));
}
