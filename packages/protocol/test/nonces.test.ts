import { expect } from "chai";
import { advanceNonceCursor, NonceSource, NONCES_PER_WORD } from "../src/index.js";

describe("nonces: one claimed bitmap word per author and process", () => {
  it("hands out the 256 bits of one word in order, then claims another random word", () => {
    const source = new NonceSource();
    const author = "0x00000000000000000000000000000000000000aA";
    const nonces = Array.from({ length: 300 }, () => source.next(author));
    const word = nonces[0] >> 8n;
    expect(nonces.slice(0, 256).map((n) => n >> 8n)).to.deep.equal(Array(256).fill(word));
    expect(nonces.slice(0, 256).map((n) => n & 0xffn)).to.deep.equal(Array.from({ length: 256 }, (_, i) => BigInt(i)));
    const second = nonces[256] >> 8n;
    expect(second).to.not.equal(word);
    expect(nonces[256] & 0xffn).to.equal(0n);
    expect(nonces.slice(256).every((n) => n >> 8n === second)).to.equal(true);
    expect(new Set(nonces).size).to.equal(300);
    // 120-bit words: every nonce stays below 2^128 (16 leading zero bytes in calldata).
    expect(nonces.every((n) => n < 1n << 128n)).to.equal(true);
  });

  it("keeps a word per author (case-insensitive), and two processes of one author claim different words", () => {
    const a = new NonceSource();
    const b = new NonceSource();
    const author = "0x00000000000000000000000000000000000000aa";
    const first = a.next(author);
    expect(a.next(author.toUpperCase().replace("0X", "0x")) >> 8n).to.equal(first >> 8n);
    expect(a.next("0x00000000000000000000000000000000000000bb") >> 8n).to.not.equal(first >> 8n);
    expect(b.next(author) >> 8n).to.not.equal(first >> 8n);
  });

  it("advanceNonceCursor claims a new word exactly when the cursor is missing or spent", () => {
    let claims = 0;
    const newWord = () => BigInt(++claims) * 1000n;
    const start = advanceNonceCursor(undefined, newWord);
    expect(start.nonce).to.equal(1000n << 8n);
    const mid = advanceNonceCursor({ word: 7n, next: 255n }, newWord);
    expect(mid.nonce).to.equal((7n << 8n) | 255n);
    expect(mid.cursor).to.deep.equal({ word: 7n, next: NONCES_PER_WORD });
    const spent = advanceNonceCursor(mid.cursor, newWord);
    expect(spent.nonce).to.equal(2000n << 8n);
    expect(claims).to.equal(2);
  });
});
