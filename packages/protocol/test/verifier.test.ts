/**
 * The one verifier's rules on forged runs (no chain, no Kafka): what tail and the audit
 * both build on.
 */
import { expect } from "chai";
import { hexlify, randomBytes } from "ethers";
import { ChannelRun, DISCREPANCY_KINDS, GENESIS_HEAD, messageDiscrepancy, nextHead, seqStep, type RunMessage } from "../src/index.js";

/** A sound run of `n` messages: random digests, heads chained from the genesis head. */
function soundRun(n: number): RunMessage[] {
  const run: RunMessage[] = [];
  let head = GENESIS_HEAD;
  for (let seq = 1n; seq <= BigInt(n); seq++) {
    const digest = hexlify(randomBytes(32));
    head = nextHead(head, digest, seq);
    run.push({ seq, digest, claimedDigest: digest, head, signed: true });
  }
  return run;
}

function kinds(run: ChannelRun, messages: RunMessage[]): string[][] {
  return messages.map((m) => {
    const step = run.step(m);
    return step.findings.length > 0 ? step.findings.map((f) => f.kind) : [step.status];
  });
}

describe("protocol: the one verifier", function () {
  it("has one sentence for every discrepancy name", function () {
    for (const [kind, sentence] of Object.entries(DISCREPANCY_KINDS)) {
      expect(kind).to.match(/^[A-Z0-9_]+$/);
      expect(sentence, kind).to.match(/^[A-Z].*\.$/);
    }
  });

  it("seqStep and messageDiscrepancy: the rules by themselves", function () {
    expect([seqStep(0n, 1n), seqStep(4n, 7n), seqStep(4n, 4n), seqStep(4n, 2n)]).to.deep.equal(["next", "gap", "repeat", "behind"]);
    expect(messageDiscrepancy({ digestMatches: true, linked: true, signed: true })).to.equal(null);
    expect(messageDiscrepancy({ digestMatches: true, linked: undefined, signed: true })).to.equal(null);
    expect(messageDiscrepancy({ digestMatches: false, linked: true, signed: true })).to.equal("BODY_ALTERED");
    expect(messageDiscrepancy({ digestMatches: true, linked: false, signed: false })).to.equal("BODY_ALTERED");
    expect(messageDiscrepancy({ digestMatches: true, linked: false, signed: true })).to.equal("HEAD_MISMATCH");
    expect(messageDiscrepancy({ digestMatches: true, linked: true, signed: false })).to.equal("BAD_SIGNATURE");
    expect(messageDiscrepancy({ digestMatches: true, linked: undefined, signed: false })).to.equal("BAD_SIGNATURE");
  });

  it("accepts a sound run from the genesis head and ends on its last head", function () {
    const messages = soundRun(5);
    const run = new ChannelRun();
    expect(kinds(run, messages)).to.deep.equal([["ok"], ["ok"], ["ok"], ["ok"], ["ok"]]);
    expect(run.head).to.equal(messages[4].head);
  });

  it("catches an altered body with the digest field kept, a wrong head, a seq gap and a signature by someone else", function () {
    const m = soundRun(5);
    const altered = { ...m[2], digest: hexlify(randomBytes(32)) }; // recomputed from altered fields; the record still claims the old one
    expect(kinds(new ChannelRun(), [m[0], m[1], altered, m[3]])).to.deep.equal([["ok"], ["ok"], ["BODY_ALTERED"], ["ok"]]);
    const wrongHead = { ...m[2], head: hexlify(randomBytes(32)) };
    expect(kinds(new ChannelRun(), [m[0], m[1], wrongHead, m[3]])).to.deep.equal([["ok"], ["ok"], ["HEAD_MISMATCH"], ["HEAD_MISMATCH"]]);
    expect(kinds(new ChannelRun(), [m[0], m[1], m[3], m[4]])).to.deep.equal([["ok"], ["ok"], ["SEQ_GAP"], ["ok"]]);
    expect(kinds(new ChannelRun(), [m[0], { ...m[1], signed: false }, m[2]])).to.deep.equal([["ok"], ["BAD_SIGNATURE"], ["ok"]]);
    // Content re-hashed by the forger (digest field updated too): neither the signature nor the chain vouches for it.
    const rehashed = { ...altered, claimedDigest: altered.digest, signed: false };
    expect(kinds(new ChannelRun(), [m[0], m[1], rehashed])).to.deep.equal([["ok"], ["ok"], ["BODY_ALTERED"]]);
    expect(kinds(new ChannelRun(), [m[1]])).to.deep.equal([["SEQ_GAP"]], "a run from genesis must start at seq 1");
    expect(kinds(new ChannelRun(), [m[0], m[2], { ...m[3], signed: false }].map((x, i) => (i === 1 ? { ...x, signed: false } : x)))).to.deep.equal([
      ["ok"],
      ["SEQ_GAP", "BAD_SIGNATURE"],
      ["BAD_SIGNATURE"],
    ]);
  });

  it("joins mid-stream when asked, ignores an identical repeat, names a conflicting one and an older seq", function () {
    const m = soundRun(4);
    const run = new ChannelRun({ joinMidStream: true });
    expect(kinds(run, [m[1], m[2], m[2]])).to.deep.equal([["joined"], ["ok"], ["redelivered"]]);
    expect(kinds(run, [{ ...m[2], digest: hexlify(randomBytes(32)), claimedDigest: undefined }, m[0], m[3]])).to.deep.equal([["SEQ_DUPLICATE"], ["SEQ_ORDER"], ["ok"]]);
  });

  it("uses a link already checked from the head it follows, and only from that head", function () {
    const m = soundRun(3);
    const run = new ChannelRun();
    run.step(m[0]);
    expect(run.step({ ...m[1], checkedLink: { from: m[0].head, ok: false } }).findings.map((f) => f.kind)).to.deep.equal(["HEAD_MISMATCH"]);
    expect(run.step({ ...m[2], checkedLink: { from: GENESIS_HEAD, ok: false } }).findings).to.deep.equal([]);
  });
});
