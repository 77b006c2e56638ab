/**
 * Unit tests of the relayer's pure parts: configuration validation, the token bucket,
 * and the probe's bytecode (equal to what Hardhat compiles from its Solidity source).
 * (The fast digest's equality with the reference moved to packages/protocol/test.)
 */
import { expect } from "chai";
import { AbiCoder, hexlify, Interface, keccak256, randomBytes, Signature, Transaction, Wallet } from "ethers";
import { randomNonce } from "@chainmail/protocol";
import { ConfigError, loadConfig } from "@chainmail/relayer";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { MESSAGE_PROBE_BYTECODE, MessageProbe__factory } from "@chainmail/protocol";
import { REPO_ROOT, waitFor } from "@chainmail/testkit";
import { decodeWords, encodeArguments, MessageProbe, type ProbeItem } from "../src/probe.js";
import type { RpcClient } from "@chainmail/chain";
import { RateLimiter } from "../src/rate-limit.js";
import { onAbort } from "../src/core.js";
import { FinalHead } from "../src/final-head.js";
import type { BlockRef } from "@chainmail/chain";
import { parseSignedMessage } from "../src/checks.js";
import { messageGasBound } from "../src/submitter/index.js";
import { GasSizer, type GasSizerSource } from "../src/submitter/gas-sizing.js";
import { encodePostBatch, groupByChannel } from "../src/submitter/calldata.js";
import { signRawTransaction } from "../src/submitter/rawtx.js";
import { minimalLength, packBatch, registryInterface } from "@chainmail/protocol";

/** The generic ABI encoding of the probe's constructor arguments, from its compiled ABI: the reference encodeArguments is held equal to. */
function encodeArgumentsReference(registry: string, items: ProbeItem[]): string {
  const signatures = items.flatMap((it) => {
    if (!it.signed) return [];
    const sig = Signature.from(it.signed.signature);
    return [[it.signed.digest, sig.r, sig.s, sig.v]];
  });
  return new Interface(MessageProbe__factory.abi).encodeDeploy([registry, items.map((it) => [it.author, it.nonce, it.channel]), signatures]).slice(2);
}

const KEY = "0x" + "11".repeat(32);
const GOOD = { CHAINMAIL_RPC_URL: "http://127.0.0.1:8545", CHAINMAIL_REGISTRY: "0x5fbdb2315678afecb367f032d93f642f64180aa3", CHAINMAIL_SIGNER_KEYS: KEY };

describe("relayer configuration", function () {
  it("reads a valid environment, with defaults for what is not set", function () {
    const config = loadConfig({ ...GOOD, CHAINMAIL_BATCH_MAX: "1", CHAINMAIL_SIGNER_KEYS: `${KEY}, 0x${"22".repeat(32)}` });
    expect(config.registryAddress).to.equal("0x5FbDB2315678afecb367f032d93F642f64180aa3");
    expect(config.signerKeys).to.have.length(2);
    expect(config.batchMaxSize).to.equal(1);
    expect(config.port).to.equal(8080);
    expect([config.subscribeFinality, config.subscribeConfirmations]).to.deep.equal(["auto", 0]);
    const held = loadConfig({ ...GOOD, CHAINMAIL_SUBSCRIBE_FINALITY: "latest" }, ["--subscribe-confirmations", "12"]);
    expect([held.subscribeFinality, held.subscribeConfirmations]).to.deep.equal(["latest", 12]);
  });

  it("lists every wrong setting, one sentence each, and never echoes a key", function () {
    let error: ConfigError | undefined;
    try {
      loadConfig({ CHAINMAIL_REGISTRY: "0x12", CHAINMAIL_SIGNER_KEYS: `${KEY},${KEY},0xsecret`, CHAINMAIL_BATCH_WAIT_MS: "-1", CHAINMAIL_GAS_MODE: "cheap", CHAINMAIL_RATE_AUTHOR_PER_S: "1.5", CHAINMAIL_SUBSCRIBE_FINALITY: "eventually", CHAINMAIL_SUBSCRIBE_CONFIRMATIONS: "-2" });
    } catch (e) {
      error = e as ConfigError;
    }
    expect(error).to.be.instanceOf(ConfigError);
    const problems = error!.problems;
    expect(problems).to.include("CHAINMAIL_RPC_URL is not set; it must be the chain's JSON-RPC URL, such as http://127.0.0.1:8545.");
    expect(problems.some((p) => p.startsWith('CHAINMAIL_REGISTRY is "0x12"'))).to.equal(true);
    expect(problems).to.include("CHAINMAIL_SIGNER_KEYS entry 3 is not a 0x-prefixed 32-byte hex private key.");
    expect(problems.some((p) => p.startsWith("CHAINMAIL_SIGNER_KEYS lists the same key twice"))).to.equal(true);
    expect(problems.some((p) => p.startsWith('CHAINMAIL_BATCH_WAIT_MS is "-1"'))).to.equal(true);
    expect(problems.some((p) => p.startsWith('CHAINMAIL_GAS_MODE is "cheap"'))).to.equal(true);
    expect(problems.some((p) => p.startsWith('CHAINMAIL_RATE_AUTHOR_PER_S is "1.5"'))).to.equal(true);
    expect(problems.some((p) => p.startsWith('CHAINMAIL_SUBSCRIBE_FINALITY is "eventually"'))).to.equal(true);
    expect(problems.some((p) => p.startsWith('CHAINMAIL_SUBSCRIBE_CONFIRMATIONS is "-2"'))).to.equal(true);
    for (const p of problems) expect(p).to.match(/\.$/);
    expect(error!.message).not.to.contain("secret");
    expect(error!.message).not.to.contain(KEY.slice(2));
  });
});

describe("relayer configuration: keys from a file (a mounted Kubernetes Secret)", function () {
  const { CHAINMAIL_SIGNER_KEYS: _unused, ...NO_KEYS } = GOOD;
  let dir: string;
  before(() => (dir = mkdtempSync(path.join(tmpdir(), "chainmail-keys-"))));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("reads newline- or comma-separated keys from CHAINMAIL_SIGNER_KEYS_FILE", function () {
    const file = path.join(dir, "chainmail-relayer-0");
    writeFileSync(file, `${KEY}\n0x${"22".repeat(32)},0x${"33".repeat(32)}\n`);
    const config = loadConfig({ ...NO_KEYS, CHAINMAIL_SIGNER_KEYS_FILE: file });
    expect(config.signerKeys).to.deep.equal([KEY, `0x${"22".repeat(32)}`, `0x${"33".repeat(32)}`]);
  });

  it("refuses a missing file, an empty file, a file with a bad key, and both settings at once, never echoing a key", function () {
    const problemsOf = (env: Record<string, string>) => {
      try {
        loadConfig(env);
      } catch (error) {
        return (error as ConfigError).problems;
      }
      throw new Error("loadConfig accepted it");
    };
    expect(problemsOf({ ...NO_KEYS, CHAINMAIL_SIGNER_KEYS_FILE: path.join(dir, "chainmail-relayer-7") })).to.deep.equal([
      `CHAINMAIL_SIGNER_KEYS_FILE ${path.join(dir, "chainmail-relayer-7")} cannot be read (ENOENT); it must be a file holding the signer keys.`,
    ]);
    const empty = path.join(dir, "empty");
    writeFileSync(empty, "\n");
    expect(problemsOf({ ...NO_KEYS, CHAINMAIL_SIGNER_KEYS_FILE: empty })).to.deep.equal([`CHAINMAIL_SIGNER_KEYS_FILE ${empty} is empty; it must hold the signer keys.`]);
    const bad = path.join(dir, "bad");
    writeFileSync(bad, `${KEY}\n0xsecret\n`);
    const badProblems = problemsOf({ ...NO_KEYS, CHAINMAIL_SIGNER_KEYS_FILE: bad });
    expect(badProblems).to.deep.equal(["CHAINMAIL_SIGNER_KEYS entry 2 is not a 0x-prefixed 32-byte hex private key."]);
    expect(problemsOf({ ...GOOD, CHAINMAIL_SIGNER_KEYS_FILE: bad })).to.deep.equal(["CHAINMAIL_SIGNER_KEYS and CHAINMAIL_SIGNER_KEYS_FILE are both set; set one of them."]);
    expect(problemsOf({ ...NO_KEYS })).to.deep.equal([
      "CHAINMAIL_SIGNER_KEYS is not set; it must be a comma-separated list of 0x-prefixed 32-byte private keys (or set CHAINMAIL_SIGNER_KEYS_FILE).",
    ]);
  });
});

describe("rate limiter (token bucket)", function () {
  it("allows the burst, then asks to wait, and refills with time", function () {
    const limiter = new RateLimiter(2, 3);
    const t = 1_000_000;
    expect([limiter.take("a", t), limiter.take("a", t), limiter.take("a", t)]).to.deep.equal([0, 0, 0]);
    expect(limiter.take("a", t)).to.equal(1);
    expect(limiter.take("b", t)).to.equal(0, "keys are independent");
    expect(limiter.take("a", t + 500)).to.equal(0, "half a second refills one token at 2/s");
    expect(new RateLimiter(0, 1).take("x")).to.equal(0, "0 per second switches limiting off");
  });
});

describe("hand-made encodings equal ethers'", function () {
  it("postBatch calldata, each channel's messages in one run, in their order", function () {
    const channels = [hexlify(randomBytes(32)), hexlify(randomBytes(32)), hexlify(randomBytes(32))];
    for (const count of [0, 1, 3, 17]) {
      const messages = Array.from({ length: count }, (_, i) => ({
        channel: channels[(i * 7) % 3],
        author: Wallet.createRandom().address,
        body: hexlify(randomBytes((i * 53) % 300)),
        contentType: i % 256,
        timestamp: BigInt(i) * 99_991n,
        replyTo: BigInt(i),
        nonce: i % 2 ? randomNonce() : (1n << 256n) - 1n,
        signature: hexlify(randomBytes(i % 4 === 0 ? 65 : 64 + i)),
      }));
      const grouped = groupByChannel(messages);
      const ours = "0x" + encodePostBatch(messages).toString("hex");
      expect(ours).to.equal(registryInterface.encodeFunctionData("postBatch", [packBatch(grouped)]));
      // Stable: per channel, the same messages in the same order; channels in first-seen order.
      for (const c of channels) expect(grouped.filter((m) => m.channel === c)).to.deep.equal(messages.filter((m) => m.channel === c));
      expect([...new Set(grouped.map((m) => m.channel))]).to.deep.equal([...new Set(messages.map((m) => m.channel))]);
      // One run per channel: 34 bytes each; per message 37 bytes, replyTo and nonce without leading zeros, body and signature.
      const payload = messages.reduce(
        (sum, m) => sum + 37 + minimalLength(m.replyTo) + minimalLength(m.nonce) + (m.body.length - 2) / 2 + (m.signature.length - 2) / 2,
        0,
      );
      expect((packBatch(grouped).length - 2) / 2).to.equal(payload + 34 * new Set(messages.map((m) => m.channel)).size);
    }
  });

  it("signed transactions (EIP-1559 and legacy EIP-155), byte for byte, with the right hash", async function () {
    const wallet = Wallet.createRandom();
    for (let i = 0; i < 12; i++) {
      const data = randomBytes(i === 0 ? 0 : i * 997);
      const to = Wallet.createRandom().address;
      const fees = i % 2
        ? ({ type: 2, maxFeePerGas: BigInt(i) * 1_000_000_007n, maxPriorityFeePerGas: BigInt(i % 3) } as const)
        : ({ type: 0, gasPrice: i % 4 === 0 ? 0n : BigInt(i) * 123_456_789n } as const);
      const fields = { chainId: i % 3 === 0 ? 31337n : 1_000_000_007n, nonce: i * 1000, gasLimit: BigInt(21_000 + i * 1_000_003), to, data, fees };
      const ours = signRawTransaction(wallet.signingKey, fields);
      const theirs = await wallet.signTransaction({ ...fields, data: hexlify(data), ...fees });
      expect(ours.raw).to.equal(theirs);
      expect(ours.hash).to.equal(Transaction.from(theirs).hash);
      expect(ours.hash).to.equal(keccak256(theirs));
    }
  });
});

describe("parsing a signed message's author", function () {
  it("keeps each author's checksummed form, and refuses a wrong checksum every time, even for an address it knows", function () {
    const json = (author: string) => ({ channel: "0x" + "11".repeat(32), author, body: "0x01", contentType: 1, timestamp: "1", replyTo: "0", nonce: "1", signature: "0x" + "22".repeat(65) });
    const address = Wallet.createRandom().address;
    const lower = address.toLowerCase();
    // One letter's case flipped: the same address, a wrong EIP-55 checksum.
    const at = [...address].findIndex((c, i) => i > 1 && /[a-f]/i.test(c));
    const wrong = address.slice(0, at) + (address[at] === address[at].toLowerCase() ? address[at].toUpperCase() : address[at].toLowerCase()) + address.slice(at + 1);
    for (let i = 0; i < 2; i++) {
      expect(parseSignedMessage(json(address)).author).to.equal(address);
      expect(parseSignedMessage(json(lower)).author).to.equal(address);
      expect(() => parseSignedMessage(json(wrong))).to.throw(/checksum is wrong/);
    }
    // Past the memo's bound, the first ones still parse (they are looked up again).
    for (let i = 0; i < 10_050; i++) parseSignedMessage(json("0x" + i.toString(16).padStart(40, "0")));
    expect(parseSignedMessage(json(lower)).author).to.equal(address);
    expect(() => parseSignedMessage(json(wrong))).to.throw(/checksum is wrong/);
  });
});

describe("waiting on a call's signal", function () {
  it("runs each waiter still registered once when the signal aborts, none that was cancelled, and at once after the abort", function () {
    const controller = new AbortController();
    const ran: number[] = [];
    const cancels = Array.from({ length: 5000 }, (_, i) => onAbort(controller.signal, () => ran.push(i)));
    for (let i = 0; i < 5000; i += 2) cancels[i]();
    expect(ran).to.deep.equal([]);
    controller.abort();
    expect(ran).to.have.length(2500);
    expect(ran.every((i) => i % 2 === 1)).to.equal(true);
    controller.abort();
    expect(ran).to.have.length(2500);
    onAbort(controller.signal, () => ran.push(-1));
    expect(ran.at(-1)).to.equal(-1);
  });
});

describe("Subscribe's one look at the final block (FinalHead)", function () {
  // A node whose answers the test gives: each look waits until the test answers it.
  function fakeFinality() {
    const looks: Array<{ answer(number: number | null): void; fail(error: Error): void }> = [];
    const finality = {
      tip: () =>
        new Promise<BlockRef | null>((resolve, reject) =>
          looks.push({ answer: (n) => resolve(n === null ? null : { number: n, hash: "0x" + n.toString(16).padStart(64, "0"), timestamp: n }), fail: reject }),
        ),
    };
    return { finality, looks };
  }
  const numberOf = (tip: BlockRef | null) => tip?.number ?? null;

  it("answers every waiting stream with one look, and looks again only while some wait for a block newer than the last", async function () {
    const { finality, looks } = fakeFinality();
    const head = new FinalHead(finality, 5);
    const signal = new AbortController().signal;
    const first = Array.from({ length: 20 }, () => head.after(-1, signal).then(numberOf));
    expect(looks).to.have.length(1);
    looks[0].answer(7);
    expect(await Promise.all(first)).to.deep.equal(Array(20).fill(7));
    // Caught up at 7: a look that finds 7 again answers nobody; the next one, 8, answers all.
    let answered = 0;
    const second = Array.from({ length: 20 }, () => head.after(7, signal).then((tip) => (answered++, numberOf(tip))));
    await waitFor("a look", async () => looks.length === 2, { intervalMs: 1 });
    looks[1].answer(7);
    await waitFor("another look", async () => looks.length === 3, { intervalMs: 1 });
    expect(answered, "no stream is answered by a block it has read").to.equal(0);
    looks[2].answer(8);
    expect(await Promise.all(second)).to.deep.equal(Array(20).fill(8));
    expect(looks, "one look at a time for all twenty").to.have.length(3);
    // A stream behind the last look is answered from it, without asking the node.
    expect(numberOf(await head.after(3, signal))).to.equal(8);
    expect(head.looks).to.equal(3);
  });

  it("a stream that leaves stops waiting; a failed look fails every stream waiting on it, and the next stream looks again", async function () {
    const { finality, looks } = fakeFinality();
    const head = new FinalHead(finality, 1);
    const leaving = new AbortController();
    const staying = new AbortController().signal;
    const left = head.after(-1, leaving.signal);
    const failing = [head.after(-1, staying), head.after(-1, staying)];
    leaving.abort();
    expect(await left).to.equal(null);
    looks[0].fail(new Error("node gone"));
    for (const waiting of failing) expect(await waiting.then(() => "answered", (error: Error) => error.message)).to.equal("node gone");
    const again = head.after(-1, staying);
    await waitFor("a new look", async () => looks.length === 2, { intervalMs: 1 });
    looks[1].answer(4);
    expect(numberOf(await again)).to.equal(4);
    expect(await head.after(4, AbortSignal.abort())).to.equal(null);
  });
});

describe("probe bytecode", function () {
  it("the probe bytecode the relayer runs is what Hardhat compiled from MessageProbe.sol", function () {
    const artifact = path.join(REPO_ROOT, "artifacts/contracts/probe/MessageProbe.sol/MessageProbe.json");
    expect(MESSAGE_PROBE_BYTECODE).to.equal(JSON.parse(readFileSync(artifact, "utf8")).bytecode);
  });

  it("the probe's hand-made argument encoding equals the generic ABI encoding, with signatures and without; it refuses to ask for some signers only", async function () {
    const author = Wallet.createRandom();
    const signed: ProbeItem[] = [];
    for (let i = 0; i < 20; i++) {
      const digest = hexlify(randomBytes(32));
      signed.push({ author: author.address, nonce: i % 2 ? randomNonce() : BigInt(i), channel: hexlify(randomBytes(32)), signed: { digest, signature: author.signingKey.sign(digest).serialized } });
    }
    const unsigned = signed.map(({ signed: _, ...it }) => it);
    expect(encodeArguments(author.address, signed)).to.equal(encodeArgumentsReference(author.address, signed));
    expect(encodeArguments(author.address, unsigned)).to.equal(encodeArgumentsReference(author.address, unsigned));
    expect(encodeArguments(author.address, [])).to.equal(encodeArgumentsReference(author.address, []));
    expect(() => encodeArguments(author.address, [...unsigned.slice(0, 3), signed[3]])).to.throw(/all its signers or none, not 1 of 4/);
  });

  it("decodes the probe's answer as the generic ABI coder does, and refuses one that is not a uint256[]", function () {
    const coder = AbiCoder.defaultAbiCoder();
    for (const words of [[], [0n], [1n << 255n, 0n, (1n << 161n) | 0xabcdefn, 12345678901234567890n]]) {
      expect(decodeWords(coder.encode(["uint256[]"], [words]))).to.deep.equal(words);
    }
    const two = coder.encode(["uint256[]"], [[1n, 2n]]);
    expect(() => decodeWords(two.slice(0, -64))).to.throw(/claims 2 words/);
    expect(() => decodeWords("0x")).to.throw(/not an ABI-encoded uint256\[\]/);
    expect(() => decodeWords(coder.encode(["uint256", "uint256"], [64n, 0n]))).to.throw(/not an ABI-encoded uint256\[\]/);
  });

  it("while its calls are out, the probe's questions gather for the next call: fewer, larger eth_calls, each answer to its question", async function () {
    // A fake node (unit test): holds each eth_call until released, answers each item's author as its signer.
    const calls: Array<{ authors: string[]; release: () => void }> = [];
    const rpc = {
      call: (_method: string, [{ data }]: [{ data: string }]) => {
        const args = data.slice(MESSAGE_PROBE_BYTECODE.length);
        const count = parseInt(args.slice(192, 256), 16);
        // Items start after the registry, two offsets and the length: 3 words each, the author first.
        const authors = Array.from({ length: count }, (_, i) => "0x" + args.slice(256 + i * 192 + 24, 256 + i * 192 + 64));
        return new Promise((resolve) => {
          calls.push({ authors, release: () => resolve(AbiCoder.defaultAbiCoder().encode(["uint256[]"], [authors.map((a) => BigInt(a))])) });
        });
      },
    } as unknown as RpcClient;
    const probe = new MessageProbe(rpc, Wallet.createRandom().address, 200, 1, 2);
    const ask = (i: number) => {
      const author = Wallet.createRandom();
      const digest = hexlify(randomBytes(32));
      return { author: author.address, answer: probe.check({ author: author.address, nonce: BigInt(i), channel: hexlify(randomBytes(32)), signed: { digest, signature: author.signingKey.sign(digest).serialized } }) };
    };
    const until = async (n: number) => {
      for (let i = 0; i < 200 && calls.length < n; i++) await new Promise((r) => setTimeout(r, 5));
      expect(calls.length).to.equal(n);
    };
    const first = ask(0);
    await until(1);
    const second = ask(1);
    await until(2);
    // Both calls are out: these 30 wait, whatever the window, and then go as one call.
    const gathered = Array.from({ length: 30 }, (_, i) => ask(2 + i));
    await new Promise((r) => setTimeout(r, 20));
    expect(calls.length).to.equal(2);
    calls[0].release();
    expect((await first.answer).signer).to.equal(first.author.toLowerCase());
    await until(3);
    expect(calls[2].authors).to.have.length(30);
    calls[1].release();
    calls[2].release();
    expect((await second.answer).signer).to.equal(second.author.toLowerCase());
    const answers = await Promise.all(gathered.map((g) => g.answer));
    expect(answers.map((a) => a.signer)).to.deep.equal(gathered.map((g) => g.author.toLowerCase()));
    expect(probe.stats).to.deep.equal({ calls: 3, items: 32 });
  });

  it("a probe call the node never answers holds the next questions back only until it counts as stalled", async function () {
    const calls: string[] = [];
    const rpc = {
      call: (_method: string, [{ data }]: [{ data: string }]) => {
        calls.push(data);
        // The first call is lost (never answered); later ones are answered at once.
        if (calls.length === 1) return new Promise(() => undefined);
        const args = data.slice(MESSAGE_PROBE_BYTECODE.length);
        return Promise.resolve(AbiCoder.defaultAbiCoder().encode(["uint256[]"], [Array.from({ length: parseInt(args.slice(192, 256), 16) }, () => 0n)]));
      },
    } as unknown as RpcClient;
    const probe = new MessageProbe(rpc, Wallet.createRandom().address, 200, 1, 1, 100);
    const item = () => ({ author: Wallet.createRandom().address, nonce: 1n, channel: hexlify(randomBytes(32)), signed: { digest: hexlify(randomBytes(32)), signature: "0x" + "11".repeat(65) } });
    void probe.check(item());
    for (let i = 0; i < 100 && calls.length === 0; i++) await new Promise((r) => setTimeout(r, 5));
    const started = performance.now();
    const answer = await probe.check(item());
    expect(answer.signer).to.equal(null);
    expect(performance.now() - started).to.be.at.least(90);
    expect(calls).to.have.length(2);
  });

});

describe("gas sizing", function () {
  it("a new relayer's first batches, planned together, make one eth_estimateGas and all learn from it; a failed one lets the next ask", async function () {
    let estimates = 0;
    let release!: (gas: bigint | Error) => void;
    const source: GasSizerSource = {
      blockGasLimit: async () => 30_000_000n,
      estimate: () => {
        estimates++;
        return new Promise((resolve, reject) => (release = (gas) => (gas instanceof Error ? reject(gas) : resolve(gas))));
      },
    };
    const bounds = Array.from({ length: 10 }, () => 20_000);
    const encode = () => new Uint8Array(4);
    const failing = new GasSizer(source, 16_000_000);
    const first = failing.plan([20_000], encode);
    const second = failing.plan([20_000], encode);
    const settled = async () => {
      for (let i = 0; i < 100 && estimates < 1; i++) await new Promise((r) => setTimeout(r, 1));
      for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
    };
    await settled();
    expect(estimates, "the second batch waits for the first's estimate").to.equal(1);
    release(new Error("execution reverted"));
    expect(await first.then(() => "planned", (e: Error) => e.message)).to.equal("execution reverted");
    for (let i = 0; i < 100 && estimates < 2; i++) await new Promise((r) => setTimeout(r, 1));
    expect(estimates, "the waiting batch asks for itself").to.equal(2);
    release(100_000n);
    expect((await second).take).to.equal(1);

    estimates = 0;
    const sizer = new GasSizer(source, 16_000_000);
    const plans = Array.from({ length: 8 }, () => sizer.plan(bounds, encode));
    await settled();
    expect(estimates).to.equal(1);
    release(260_000n);
    const answered = await Promise.all(plans);
    expect(estimates).to.equal(1);
    for (const plan of answered) expect(plan).to.deep.equal(answered[0]);
    expect(answered[0].take).to.equal(10);
    expect(answered[0].gasLimit > 260_000n, "above the estimate, with the margin").to.equal(true);
  });

  it("the per-message gas bound grows with the body", function () {
    const base = { channel: "0x" + "00".repeat(32), author: Wallet.createRandom().address, contentType: 1, timestamp: 0n, replyTo: 0n, nonce: 0n, signature: "0x" };
    expect(messageGasBound({ ...base, body: "0x" + "ab".repeat(4096) })).to.be.greaterThan(messageGasBound({ ...base, body: "0xab" }));
  });
});
