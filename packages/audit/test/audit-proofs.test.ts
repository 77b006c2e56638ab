/**
 * The audit against a lying world: a real hardhat node behind a JSON-RPC proxy that
 * forges answers (logs, eth_call, eth_getProof, headers, code). With proofs, the
 * endpoint cannot drop, rewrite or relabel the record unseen; without them (prove: false,
 * as the audit was before) a consistent liar gets "clean": those runs show the defect.
 */
import { expect } from "chai";
import { toBeHex, zeroPadValue } from "ethers";
import { audit, ChainLogSource, type AuditResult, type ChainLogSourceOptions } from "@chainmail/audit";
import { headerHash, RpcClient, type RawHeader, type RpcLog } from "@chainmail/chain";
import { MESSAGE_POSTED_TOPIC, registryInterface } from "@chainmail/protocol";
import { startHardhatNode, type RunningNode } from "@chainmail/testkit";
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
});
