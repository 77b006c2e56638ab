/**
 * The audit against a lying world: a real hardhat node behind a JSON-RPC proxy that
 * forges answers (logs, eth_call, eth_getProof, headers, code). With proofs, the
 * endpoint cannot drop, rewrite or relabel the record unseen; without them (prove: false,
 * as the audit was before) a consistent liar gets "clean": those runs show the defect.
 */
import { expect } from "chai";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { toBeHex, zeroPadValue } from "ethers";
import { audit, ChainLogSource, type AuditResult, type ChainLogSourceOptions, type EvidenceBundle } from "@chainmail/audit";
import { headerHash, RpcClient, type RawHeader, type RpcLog } from "@chainmail/chain";
import { decodeMessagePosted, MESSAGE_POSTED_TOPIC, registryInterface } from "@chainmail/protocol";
import { CHAINMAIL_CLI, startHardhatNode, type RunningNode } from "@chainmail/testkit";
import { buildHistory, encodeLog, fieldsOf, forgeNext, type History } from "./audit-fixture.js";
import { RpcErrorAnswer, startLyingProxy, type LyingProxy } from "./lying-proxy.js";

function kinds(result: AuditResult): string[] {
  return result.report.discrepancies.map((d) => `${d.kind}${d.seq ? `@${d.channelName}#${d.seq}` : `@${d.channelName ?? "-"}`}`).sort();
}

describe("audit against a lying JSON-RPC endpoint (real node behind a forging proxy)", function () {
  let node: RunningNode;
  let history: History;
  let proxy: LyingProxy;
  let logs: RpcLog[];
  let final: RawHeader;

  before(async function () {
    node = await startHardhatNode();
    history = await buildHistory(node.provider);
    proxy = await startLyingProxy(node.url);
    const rpc = new RpcClient(node.url);
    logs = await rpc.call<RpcLog[]>("eth_getLogs", [{ address: history.location.address, fromBlock: "0x0", toBlock: "latest", topics: [MESSAGE_POSTED_TOPIC] }]);
    final = (await rpc.header("latest"))!;
  });
  afterEach(() => proxy.lie(null));
  after(async function () {
    await proxy?.close();
    await node?.stop();
  });

  async function run(urls: string[], options: ChainLogSourceOptions = {}): Promise<AuditResult> {
    const source = await ChainLogSource.fromUrls(urls, history.location.address, options);
    try {
      return await audit(source);
    } finally {
      await source.close();
    }
  }
  const seqTopic = (seq: number) => zeroPadValue(toBeHex(seq), 32);
  const isLog = (l: RpcLog, channel: string, seq: number) => l.topics[0] === MESSAGE_POSTED_TOPIC && l.topics[1] === channel && l.topics[2] === seqTopic(seq);
  const rawOf = (l: RpcLog) => ({ ...l, blockNumber: Number(l.blockNumber), index: Number(l.logIndex) });
  const channelInfoCall = (req: { method: string; params: unknown[] }, channel: string) =>
    req.method === "eth_call" &&
    typeof (req.params[0] as { data?: string })?.data === "string" &&
    (req.params[0] as { data: string }).data === registryInterface.encodeFunctionData("channelInfo", [channel]);
  const checkpoint = () => ({ block: Number(final.number), hash: final.hash });

  it("proves a clean record: the stored state by eth_getProof, the header by a checkpoint or by agreeing endpoints", async function () {
    const one = await run([proxy.url]);
    expect(kinds(one)).to.deep.equal([]);
    expect(one.report.proof).to.include({ proven: true, block: Number(final.number), hash: final.hash });
    expect(one.report.warnings.map((w) => w.kind)).to.deep.equal(["HEADER_UNANCHORED"]);
    const anchored = await run([proxy.url], { checkpoint: checkpoint() });
    expect(kinds(anchored)).to.deep.equal([]);
    expect(anchored.report.warnings).to.deep.equal([]);
    expect(anchored.report.proof!.trusted).to.match(/checkpoint/);
    const two = await run([proxy.url, node.url]);
    expect(kinds(two)).to.deep.equal([]);
    expect(two.report.proof!.trusted).to.match(/2 endpoints agreeing/);
  });

  it("an endpoint that drops the last message and reports the matching channelInfo: clean without proofs, SEQ_GAP with them", async function () {
    const last = logs.find((l) => isLog(l, history.channels.general, 5))!;
    const previous = fieldsOf(rawOf(logs.find((l) => isLog(l, history.channels.general, 4))!));
    proxy.lie((req, result) => {
      if (req.method === "eth_getLogs") return (result as RpcLog[]).filter((l) => l.transactionHash !== last.transactionHash || l.logIndex !== last.logIndex);
      if (channelInfoCall(req, history.channels.general)) return registryInterface.encodeFunctionResult("channelInfo", [true, true, 4n, previous.head]);
      return result;
    });
    expect(kinds(await run([proxy.url], { prove: false }))).to.deep.equal([]);
    expect(kinds(await run([proxy.url], { checkpoint: checkpoint() }))).to.deep.equal(["SEQ_GAP@general", "STATE_MISMATCH@general"]);
  });

  it("an endpoint that rewrites a message (properly signed, heads recomputed, channelInfo to match): STORED_HEAD_MISMATCH with proofs", async function () {
    const original = logs.find((l) => isLog(l, history.channels.general, 5))!;
    const previous = fieldsOf(rawOf(logs.find((l) => isLog(l, history.channels.general, 4))!));
    const forged = await forgeNext(history.location, history.wallets.alice, previous, "see you NEVER", rawOf(original));
    proxy.lie((req, result) => {
      if (req.method === "eth_getLogs") return (result as RpcLog[]).map((l) => (l === undefined || l.transactionHash !== original.transactionHash || l.logIndex !== original.logIndex ? l : { ...l, data: forged.log.data, topics: forged.log.topics }));
      if (channelInfoCall(req, history.channels.general)) return registryInterface.encodeFunctionResult("channelInfo", [true, true, 5n, forged.fields.head]);
      return result;
    });
    expect(kinds(await run([proxy.url], { prove: false }))).to.deep.equal([]);
    expect(kinds(await run([proxy.url], { checkpoint: checkpoint() }))).to.deep.equal(["STATE_MISMATCH@general", "STORED_HEAD_MISMATCH@general"]);
  });

  it("a forged storage proof (value or node) is PROOF_INVALID, never believed", async function () {
    proxy.lie((req, result) => {
      const r = result as { storageProof: Array<{ value: string }> };
      if (req.method !== "eth_getProof" || r.storageProof.length < 3) return result;
      r.storageProof[r.storageProof.length - 2].value = "0x" + "42".repeat(32);
      return r;
    });
    const value = await run([proxy.url], { checkpoint: checkpoint() });
    expect(kinds(value)).to.deep.equal(["PROOF_INVALID@-"]);
    expect(value.report.discrepancies[0].detail).to.match(/the node says 0x(42){32}, the proof says/);
    proxy.lie((req, result) => {
      if (req.method !== "eth_getProof") return result;
      const r = result as { accountProof: string[] };
      const node = r.accountProof[1];
      r.accountProof[1] = node.slice(0, 20) + (node[20] === "0" ? "1" : "0") + node.slice(21);
      return r;
    });
    const node = await run([proxy.url], { checkpoint: checkpoint() });
    expect(kinds(node)).to.deep.equal(["PROOF_INVALID@-"]);
    expect(node.report.discrepancies[0].detail).to.match(/proof node 1 hashes to 0x[0-9a-f]{64}, not to 0x[0-9a-f]{64} that its parent names/);
  });

  /** A header for the final block with another state root, its hash recomputed: a consistent lie. */
  function fakeHeader(header: RawHeader): RawHeader {
    const fake = { ...header, stateRoot: "0x" + "5e".repeat(32) };
    return { ...fake, hash: headerHash(fake) };
  }

  it("two endpoints that disagree on the audited block: ENDPOINTS_DISAGREE naming both", async function () {
    proxy.lie((req, result) => (req.method === "eth_getBlockByNumber" && (result as RawHeader)?.number === final.number ? fakeHeader(result as RawHeader) : result));
    const result = await run([node.url, proxy.url], { toBlock: Number(final.number) });
    expect(kinds(result)).to.deep.equal(["ENDPOINTS_DISAGREE@-"]);
    expect(result.report.discrepancies[0].detail).to.include(node.url).and.include(proxy.url);
  });

  it("a checkpoint that does not match: CHECKPOINT_MISMATCH (the liar's header and proofs are not believed)", async function () {
    proxy.lie((req, result) => (req.method === "eth_getBlockByNumber" && (result as RawHeader)?.number === final.number ? fakeHeader(result as RawHeader) : result));
    const result = await run([proxy.url], { checkpoint: checkpoint() });
    // The fake header also contradicts the block hash its own logs of that block carry.
    expect(kinds(result)).to.deep.equal(["CHECKPOINT_MISMATCH@-", "LOG_BLOCK_HASH@-", "PROOF_INVALID@-"]);
    // A header whose fields do not hash to its claimed hash.
    proxy.lie((req, result) => (req.method === "eth_getBlockByNumber" && (result as RawHeader)?.number === final.number ? { ...(result as RawHeader), gasUsed: "0x1" } : result));
    expect(kinds(await run([proxy.url], { checkpoint: checkpoint() }))).to.deep.equal(["HEADER_INVALID@-"]);
  });

  it("checks every log's address, removed flag and block hash", async function () {
    const target = logs.find((l) => isLog(l, history.channels.ops, 2))!;
    const at = (l: RpcLog) => l.transactionHash === target.transactionHash && l.logIndex === target.logIndex;
    const withLog = (change: (l: RpcLog) => RpcLog) =>
      proxy.lie((req, result) => (req.method === "eth_getLogs" ? (result as RpcLog[]).map((l) => (at(l) ? change(l) : l)) : result));
    withLog((l) => ({ ...l, removed: true }));
    expect(kinds(await run([proxy.url]))).to.deep.equal(["LOG_FOREIGN@-", "SEQ_GAP@ops#3"]);
    withLog((l) => ({ ...l, address: history.wallets.mallory.address }));
    expect(kinds(await run([proxy.url]))).to.deep.equal(["LOG_FOREIGN@-", "SEQ_GAP@ops#3"]);
    // Every log of the block relabelled the same way: only the chain's block hash tells.
    proxy.lie((req, result) =>
      req.method === "eth_getLogs" ? (result as RpcLog[]).map((l) => (l.blockNumber === target.blockNumber ? { ...l, blockHash: "0x" + "66".repeat(32) } : l)) : result,
    );
    expect(kinds(await run([proxy.url]))).to.deep.equal(["LOG_BLOCK_HASH@-"]);
  });

  it("a bad ECDSA signature is never downgraded when eth_getCode fails, and a node error on eth_call is not BAD_SIGNATURE", async function () {
    const target = logs.find((l) => isLog(l, history.channels.ops, 2))!;
    const bad = encodeLog({ ...fieldsOf(rawOf(target)), signature: "0x" + "5a".repeat(64) + "1b" }, rawOf(target));
    const badSignature = (req: { method: string }, result: unknown) =>
      req.method === "eth_getLogs" ? (result as RpcLog[]).map((l) => (l.transactionHash === target.transactionHash && l.logIndex === target.logIndex ? { ...l, data: bad.data } : l)) : result;
    proxy.lie((req, result) => (req.method === "eth_getCode" && (req.params[0] as string).toLowerCase() === history.wallets.bob.address.toLowerCase() ? new RpcErrorAnswer({ code: -32000, message: "header not found" }) : badSignature(req, result)));
    const noCode = await run([proxy.url]);
    expect(noCode.report.ok).to.equal(false);
    expect(kinds(noCode)).to.deep.equal(["SIGNATURE_UNCHECKED@ops#2"]);
    // bob "is" a contract wallet, and the node fails the call: unchecked, not a bad signature.
    const asWallet = (error: { code: number; message: string }) =>
      proxy.lie((req, result) => {
        if (req.method === "eth_getCode" && (req.params[0] as string).toLowerCase() === history.wallets.bob.address.toLowerCase()) return "0x6080";
        if (req.method === "eth_call" && (req.params[0] as { to?: string }).to?.toLowerCase() === history.wallets.bob.address.toLowerCase()) return new RpcErrorAnswer(error);
        return badSignature(req, result);
      });
    asWallet({ code: -32000, message: "missing trie node 0x1234 (path )" });
    expect(kinds(await run([proxy.url]))).to.deep.equal(["SIGNATURE_UNCHECKED@ops#2"]);
    asWallet({ code: 3, message: "execution reverted" });
    expect(kinds(await run([proxy.url]))).to.deep.equal(["BAD_SIGNATURE@ops#2"]);
  });

  describe("evidence bundles, checked offline", function () {
    let dir: string;
    let file: string;
    before(async function () {
      dir = mkdtempSync(path.join(tmpdir(), "chainmail-evidence-"));
      file = path.join(dir, "evidence.json");
      const cp = checkpoint();
      const written = spawnSync(process.execPath, [CHAINMAIL_CLI, "audit", "--rpc-url", node.url, "--registry", history.location.address, "--checkpoint", `${cp.block}:${cp.hash}`, "--evidence", file], { encoding: "utf8" });
      expect(written.status, written.stderr).to.equal(0);
      expect(written.stdout).to.match(/Wrote the evidence bundle to/).and.match(/header trusted through the checkpoint/);
    });
    const verify = (f: string, ...args: string[]) =>
      // No JSON-RPC anywhere: the variable points at a port nothing listens on.
      spawnSync(process.execPath, [CHAINMAIL_CLI, "verify-evidence", f, ...args], { encoding: "utf8", env: { ...process.env, CHAINMAIL_RPC_URL: "http://127.0.0.1:9" } });
    const load = () => JSON.parse(readFileSync(file, "utf8")) as EvidenceBundle;
    /** Writes `bundle`, with the manifest's section hashes recomputed when `reseal` (as a forger would). */
    const save = (bundle: EvidenceBundle, reseal: boolean) => {
      if (reseal) for (const s of ["header", "proof", "messages", "membership"] as const) bundle.manifest.sections[s] = createHash("sha256").update(JSON.stringify(bundle[s])).digest("hex");
      const out = path.join(dir, `forged-${Math.random().toString(16).slice(2)}.json`);
      writeFileSync(out, JSON.stringify(bundle));
      return out;
    };
    const flip = (hex: string, at: number) => hex.slice(0, at) + (hex[at] === "0" ? "1" : "0") + hex.slice(at + 1);

    it("verifies a bundle with no network, giving the audit's verdict (and its checkpoint)", async function () {
      const bundle = load();
      expect(bundle.format).to.equal("chainmail.evidence.v1");
      expect(bundle.messages).to.have.length(history.posted);
      const ok = verify(file);
      expect(ok.status, ok.stderr).to.equal(0);
      expect(ok.stdout).to.match(/Verified 10 messages in 4 channels/).and.match(/proven by eth_getProof/).and.match(/Clean:/);
      const cp = checkpoint();
      expect(verify(file, "--checkpoint", `${cp.block}:${cp.hash}`).status).to.equal(0);
      const wrong = verify(file, "--checkpoint", `${cp.block}:0x${"ab".repeat(32)}`);
      expect(wrong.status).to.equal(1);
      expect(wrong.stdout).to.match(/CHECKPOINT_MISMATCH/);
    });

    it("refuses one byte changed in a message, a proof node or the header, naming why (manifest kept or resealed)", async function () {
      const body = (b: EvidenceBundle) => {
        const m = b.messages[3];
        m.log.data = flip(m.log.data, m.log.data.length - 10); // inside the body (the packed data ends with it)
      };
      const proofNode = (b: EvidenceBundle) => (b.proof.answer.storageProof[1].proof[0] = flip(b.proof.answer.storageProof[1].proof[0], 40));
      const header = (b: EvidenceBundle) => (b.header.gasUsed = "0x" + (BigInt(b.header.gasUsed) + 1n).toString(16));
      for (const [name, tamper] of [["messages", body], ["proof", proofNode], ["header", header]] as const) {
        const kept = load();
        tamper(kept);
        const refused = verify(save(kept, false));
        expect(refused.status, name).to.equal(1);
        expect(refused.stderr).to.match(new RegExp(`refused: The ${name} section does not match the manifest`));
      }
      // Resealed: the content itself gives the forgery away.
      const b1 = load();
      body(b1);
      const resealed = verify(save(b1, true));
      expect(resealed.status).to.equal(1);
      expect(resealed.stderr, resealed.stderr).to.match(/refused: Message 3 .*its fields differ from its log's \(body\)/);
      b1.messages[3].fields.body = decodeMessagePosted(history.location, b1.messages[3].log).body.toLowerCase();
      const altered = verify(save(b1, true));
      expect(altered.status).to.equal(1);
      expect(altered.stdout, altered.stdout).to.match(/BODY_ALTERED/);
      const b2 = load();
      proofNode(b2);
      const badProof = verify(save(b2, true));
      expect(badProof.status).to.equal(1);
      expect(badProof.stdout).to.match(/PROOF_INVALID: .*proof node 0 hashes to/);
      const b3 = load();
      header(b3);
      const badHeader = verify(save(b3, true));
      expect(badHeader.status).to.equal(1);
      expect(badHeader.stdout).to.match(/HEADER_INVALID: .*header fields hash to 0x[0-9a-f]{64}, not to its claimed hash/);
    });
  });
});
