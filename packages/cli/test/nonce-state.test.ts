import { expect } from "chai";
import { mkdtempSync, readFileSync, rmSync, writeFileSync, chmodSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { FileNonceSource, nonceStateDir } from "../src/nonce-state.js";

describe("CLI nonce state: one-shot runs of an author share a bitmap word", () => {
  let dir: string;
  const author = "0x00000000000000000000000000000000000000Aa";
  beforeEach(() => (dir = mkdtempSync(path.join(tmpdir(), "chainmail-nonces-"))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("continues the persisted cursor across runs (separate sources, like separate processes)", () => {
    const nonces = Array.from({ length: 5 }, () => new FileNonceSource(dir).next(author));
    expect(nonces.map((n) => n >> 8n)).to.deep.equal(Array(5).fill(nonces[0] >> 8n));
    expect(nonces.map((n) => n & 0xffn)).to.deep.equal([0n, 1n, 2n, 3n, 4n]);
    const saved = JSON.parse(readFileSync(path.join(dir, "nonces", `${author.toLowerCase()}.json`), "utf8"));
    expect(saved).to.deep.equal({ word: (nonces[0] >> 8n).toString(), next: "5" });
  });

  it("waits for a held lock, takes over a stale one, and falls back to a fresh word when it cannot", () => {
    const first = new FileNonceSource(dir).next(author);
    const lock = path.join(dir, "nonces", `${author.toLowerCase()}.json.lock`);
    writeFileSync(lock, "");
    const warnings: string[] = [];
    // A fresh lock held past the wait: the run does not block forever, it falls back.
    const fallback = new FileNonceSource(dir, (l) => warnings.push(l)).next(author);
    expect(warnings).to.have.length(1);
    expect(warnings[0]).to.match(/held by another run/);
    expect(fallback >> 8n).to.not.equal(first >> 8n);
    rmSync(lock);
    // The persisted cursor was not advanced by the fallback.
    expect(new FileNonceSource(dir).next(author)).to.equal(first + 1n);
  });

  it("puts the state under CHAINMAIL_STATE_DIR, else XDG_STATE_HOME", () => {
    expect(nonceStateDir({ CHAINMAIL_STATE_DIR: "/x" })).to.equal("/x");
    expect(nonceStateDir({ XDG_STATE_HOME: "/s" })).to.equal(path.join("/s", "chainmail"));
  });
});
