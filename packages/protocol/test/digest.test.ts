/**
 * The protocol's fast hashing against the reference encoders (test/reference.ts), over
 * random inputs: the digest, the next head and the canonical-signature rule.
 */
import { expect } from "chai";
import { getBytes, hexlify, randomBytes, Signature, Wallet } from "ethers";
import { digestOf, GENESIS_HEAD, isCanonicalSignature, isCanonicalSignatureBytes, nextHead, randomNonce, recoverAuthor, signMessage } from "../src/index.js";
import { recoverHex, recoveryBackend } from "../src/signatures.js";
import { digestOfReference, isCanonicalSignatureReference, nextHeadReference, recoverAuthorReference } from "./reference.js";

describe("protocol: digest, next head and signature rule equal their references", function () {
  it("digestOf equals the TypedDataEncoder digest for random messages", function () {
    const registry = { chainId: 31337n, address: Wallet.createRandom().address };
    for (let i = 0; i < 200; i++) {
      const message = {
        channel: hexlify(randomBytes(32)),
        author: Wallet.createRandom().address,
        body: hexlify(randomBytes(i % 7 === 0 ? 0 : (i * 37) % 600)),
        contentType: i % 256,
        timestamp: BigInt(i) * 1_000_003n,
        replyTo: i % 3 === 0 ? 0n : (1n << 64n) - 1n - BigInt(i),
        nonce: i % 2 === 0 ? randomNonce() : (1n << 256n) - 1n - BigInt(i),
      };
      expect(digestOf(registry, message)).to.equal(digestOfReference(registry, message));
    }
  });

  it("digestOf binds the registry: another chain id or address gives another digest, each equal to the reference", function () {
    const message = { channel: hexlify(randomBytes(32)), author: Wallet.createRandom().address, body: "0x01", contentType: 1, timestamp: 1n, replyTo: 0n, nonce: 7n };
    const registries = [
      { chainId: 31337n, address: "0x5FbDB2315678afecb367f032d93F642f64180aa3" },
      { chainId: 1n, address: "0x5FbDB2315678afecb367f032d93F642f64180aa3" },
      { chainId: 31337, address: "0x5fbdb2315678afecb367f032d93f642f64180aa3" },
      { chainId: 31337n, address: Wallet.createRandom().address },
    ];
    const digests = registries.map((r) => digestOf(r, message));
    registries.forEach((r, i) => expect(digests[i]).to.equal(digestOfReference(r, message)));
    expect(new Set(digests).size).to.equal(3, "the same registry written two ways is one registry");
  });

  it("digestOf refuses what the reference refuses: values out of range, ids of the wrong length", function () {
    const registry = { chainId: 31337n, address: Wallet.createRandom().address };
    const good = { channel: hexlify(randomBytes(32)), author: Wallet.createRandom().address, body: "0x", contentType: 1, timestamp: 1n, replyTo: 0n, nonce: 1n };
    const cases = {
      "contentType 256": { ...good, contentType: 256 },
      "negative timestamp": { ...good, timestamp: -1n },
      "replyTo over uint64": { ...good, replyTo: 1n << 64n },
      "nonce over uint256": { ...good, nonce: 1n << 256n },
      "31-byte channel": { ...good, channel: hexlify(randomBytes(31)) },
      "19-byte author": { ...good, author: hexlify(randomBytes(19)) },
    };
    for (const [what, message] of Object.entries(cases)) {
      expect(() => digestOfReference(registry, message), `reference: ${what}`).to.throw();
      expect(() => digestOf(registry, message), what).to.throw();
    }
  });

  it("nextHead equals the AbiCoder head for random and boundary inputs", function () {
    for (const seq of [1n, 2n, 255n, 256n, (1n << 64n) - 1n]) {
      const digest = "0x" + seq.toString(16).padStart(64, "a");
      expect(nextHead(GENESIS_HEAD, digest, seq)).to.equal(nextHeadReference(GENESIS_HEAD, digest, seq));
    }
    for (let i = 0; i < 200; i++) {
      const previous = hexlify(randomBytes(32));
      const digest = hexlify(randomBytes(32));
      const seq = i % 2 === 0 ? BigInt(i + 1) : BigInt(hexlify(randomBytes(8)));
      expect(nextHead(previous, digest, seq)).to.equal(nextHeadReference(previous, digest, seq));
      expect(nextHead(previous.toUpperCase().replace("0X", "0x"), digest, Number(i + 1))).to.equal(nextHeadReference(previous, digest, i + 1));
    }
    expect(() => nextHead(GENESIS_HEAD, "0x" + "ab".repeat(31), 1n), "a 31-byte digest").to.throw();
  });

  it("the canonical-signature rule on hex and on bytes equals OpenZeppelin's, for random and edge signatures", function () {
    const halfN = "7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0";
    const r = "11".repeat(32);
    const signatures = [
      "0x" + r + halfN + "1b",
      "0x" + r + halfN.slice(0, -1) + "1" + "1c", // s = n/2 + 1
      "0x" + r + halfN.slice(0, -1) + "f" + "1b",
      "0x" + r + "00".repeat(32) + "1b",
      "0x" + r + "ff".repeat(32) + "1c",
      "0x" + r + halfN + "1d",
      "0x" + r + halfN + "00",
      "0x" + r + halfN,
      "0x" + r + halfN + "1b00",
      "0x" + r.toUpperCase() + halfN + "1B",
      "0x" + r + "zz".repeat(32) + "1b",
      "",
    ];
    for (let i = 0; i < 300; i++) signatures.push(hexlify(randomBytes(64)) + ["1b", "1c", "00", "01"][i % 4]);
    for (const signature of signatures) {
      const expected = isCanonicalSignatureReference(signature);
      expect(isCanonicalSignature(signature), signature).to.equal(expected);
      if (/^0x(?:[0-9a-fA-F]{2})*$/.test(signature)) expect(isCanonicalSignatureBytes(getBytes(signature)), signature).to.equal(expected);
    }
  });

  it("recoverAuthor equals verifyTypedData's signer, refusals included", async function () {
    const registry = { chainId: 31337n, address: "0x5FbDB2315678afecb367f032d93F642f64180aa3" };
    const author = new Wallet("0x" + "42".repeat(32));
    for (let i = 0; i < 20; i++) {
      const signed = await signMessage(author, registry, {
        channel: hexlify(randomBytes(32)), author: author.address, body: hexlify(randomBytes(i * 13)), contentType: 1, timestamp: BigInt(i), replyTo: 0n, nonce: randomNonce(),
      });
      const variants = [signed.signature, signed.signature.slice(0, 130) + (signed.signature.endsWith("1b") ? "1c" : "1b"), hexlify(randomBytes(64)) + "1b", "0x" + "00".repeat(65), "0x1234"];
      for (const signature of variants) {
        const message = { ...signed, signature };
        expect(recoverAuthor(registry, message), signature).to.equal(recoverAuthorReference(registry, message));
        expect(recoverAuthor(registry, message, digestOf(registry, message)), signature).to.equal(recoverAuthorReference(registry, message));
      }
      expect(recoverAuthor(registry, signed)).to.equal(author.address);
    }
  });

  it("every recovery backend agrees with recoverAuthor, refusals included", async function () {
    const registry = { chainId: 31337n, address: "0x5FbDB2315678afecb367f032d93F642f64180aa3" };
    const author = new Wallet("0x" + "42".repeat(32));
    const backends = (["native", "noble", "ethers"] as const).map((name) => [name, recoveryBackend(name)] as const);
    const m = await signMessage(author, registry, { channel: hexlify(randomBytes(32)), author: author.address, body: "0x0102", contentType: 1, timestamp: 5n, replyTo: 0n, nonce: randomNonce() });
    const digest = digestOf(registry, m);
    const sig = Signature.from(m.signature);
    const n = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
    const variants: Record<string, string> = {
      valid: m.signature,
      // (r, n - s, flipped v) recovers the same key: what ecrecover accepts and OpenZeppelin refuses.
      "high s (malleable twin)": sig.r + (n - BigInt(sig.s)).toString(16).padStart(64, "0") + (sig.v === 27 ? "1c" : "1b"),
      "v flipped": m.signature.slice(0, 130) + (sig.v === 27 ? "1c" : "1b"),
      "v = 29": m.signature.slice(0, 130) + "1d",
      "r = 0": "0x" + "00".repeat(32) + m.signature.slice(66),
      "64 bytes": m.signature.slice(0, 130),
      "not hex": m.signature.slice(0, 128) + "zz1b",
      "other key": (await signMessage(new Wallet("0x" + "43".repeat(32)), registry, m)).signature,
    };
    for (const [what, signature] of Object.entries(variants)) {
      const reference = recoverAuthor(registry, { ...m, signature });
      for (const [name, recover] of backends) {
        expect(recoverHex(recover, digest, signature), `${name}: ${what}`).to.equal(reference === null ? null : reference.toLowerCase());
      }
    }
    expect(recoverHex(recoveryBackend("native"), digest, m.signature)).to.equal(author.address.toLowerCase());
  });
});
