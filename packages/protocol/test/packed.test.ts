/**
 * The packed layouts' compact replyTo and nonce (a length byte, then the value without
 * leading zeros) at their edges: 0, one byte, the type's maximum; the log's encoder and
 * the one decoder are inverse, and the decoder's digest equals digestOf.
 */
import { expect } from "chai";
import { hexlify, randomBytes, Wallet } from "ethers";
import { decodeMessagePosted, digestOf, encodeMessagePosted, GENESIS_HEAD, MessagePostedDecoder, minimalLength, packBatch } from "../src/index.js";

describe("protocol: compact replyTo and nonce in the packed batch and log", function () {
  const registry = { chainId: 31337n, address: Wallet.createRandom().address };
  const edges = [0n, 1n, 255n, 256n, (1n << 64n) - 1n, (1n << 128n) - 1n, (1n << 256n) - 1n];

  it("minimalLength: bytes without leading zeros", function () {
    expect(edges.map(minimalLength)).to.deep.equal([0, 1, 1, 2, 8, 16, 32]);
  });

  it("a log round-trips through encodeMessagePosted and the decoder, with the signed digest, for every edge", function () {
    for (const nonce of edges) {
      for (const replyTo of edges.filter((v) => v < 1n << 64n)) {
        const message = {
          channel: hexlify(randomBytes(32)),
          author: Wallet.createRandom().address,
          body: hexlify(randomBytes(33)),
          contentType: 1,
          timestamp: 1_800_000_000n,
          replyTo,
          nonce,
        };
        const signature = hexlify(randomBytes(65));
        const log = encodeMessagePosted({ ...message, seq: 5n, head: GENESIS_HEAD, signature });
        // 45 fixed bytes, replyTo and nonce without leading zeros, signature, body.
        expect((log.data.length - 2) / 2).to.equal(45 + minimalLength(replyTo) + minimalLength(nonce) + 65 + 33);
        const decoded = decodeMessagePosted(registry, { ...log, blockNumber: 1, blockHash: "0x" + "00".repeat(32), transactionHash: "0x" + "00".repeat(32) });
        expect(decoded).to.include({ replyTo, nonce, body: message.body, signature, seq: 5n, digest: digestOf(registry, message) });
      }
    }
  });

  it("recognise: a log carrying the known message byte for byte is what decode returns; any forged field, a wrong seq or author word, or bad hex is not recognised", function () {
    const decoder = new MessagePostedDecoder(registry);
    const message = { channel: hexlify(randomBytes(32)), author: Wallet.createRandom().address, body: hexlify(randomBytes(40)), contentType: 2, timestamp: 1_800_000_000n, replyTo: 7n, nonce: 300n, signature: hexlify(randomBytes(65)) };
    const known = { message, digest: digestOf(registry, message) };
    const meta = { blockNumber: 9, blockHash: "0x" + "11".repeat(32), transactionHash: "0x" + "22".repeat(32), logIndex: 3 };
    const asked: Array<[string, bigint]> = [];
    const find = (author: string, nonce: bigint) => (asked.push([author, nonce]), known);
    const fields = { ...message, seq: 12n, head: hexlify(randomBytes(32)) };
    const genuine = { ...encodeMessagePosted(fields), ...meta };
    const recognised = decoder.recognise(genuine, find);
    expect(recognised?.known).to.equal(known);
    expect(recognised?.posted).to.deep.equal(decoder.decode(genuine));
    expect(asked).to.deep.equal([[message.author.toLowerCase(), 300n]]);
    expect(decoder.recognise(genuine, () => undefined)).to.equal(undefined);

    const flip = (hex: string) => hex.slice(0, -1) + (hex.endsWith("0") ? "1" : "0");
    const forgeries: Record<string, Partial<typeof fields>> = {
      channel: { channel: flip(message.channel) },
      author: { author: Wallet.createRandom().address },
      body: { body: flip(message.body) },
      "a longer body": { body: message.body + "00" },
      contentType: { contentType: 3 },
      timestamp: { timestamp: message.timestamp + 1n },
      replyTo: { replyTo: 8n },
      signature: { signature: flip(message.signature) },
    };
    for (const [what, change] of Object.entries(forgeries)) {
      expect(decoder.recognise({ ...encodeMessagePosted({ ...fields, ...change }), ...meta }, find), what).to.equal(undefined);
    }
    // Another nonce is another message: find is asked for it, and here knows none.
    expect(decoder.recognise({ ...encodeMessagePosted({ ...fields, nonce: 301n }), ...meta }, (a, n) => (n === 300n ? known : undefined))).to.equal(undefined);
    const topics = genuine.topics;
    const malformed = [
      { ...genuine, topics: [topics[0], topics[1], "0x01" + topics[2].slice(4), topics[3]] },
      { ...genuine, topics: [topics[0], topics[1], topics[2], "0x01" + topics[3].slice(4)] },
      { ...genuine, topics: topics.slice(0, 3) },
      { ...genuine, data: genuine.data.slice(0, 60) },
      { ...genuine, data: genuine.data.replace(/.$/, "z") },
    ];
    for (const log of malformed) expect(decoder.recognise(log, find)).to.equal(undefined);
  });

  it("packBatch writes the same compact fields and refuses values over their type", function () {
    const m = { channel: hexlify(randomBytes(32)), author: Wallet.createRandom().address, body: "0x01", contentType: 1, timestamp: 1n, signature: hexlify(randomBytes(65)) };
    const packed = packBatch([{ ...m, replyTo: 0n, nonce: 256n }]);
    // run header 34; author 20, contentType 1, timestamp 8; R = 0; N = 2, 0x0100.
    expect(packed.slice(2 + 2 * 63, 2 + 2 * 67)).to.equal("00020100");
    expect(() => packBatch([{ ...m, replyTo: 1n << 64n, nonce: 1n }])).to.throw(RangeError);
    expect(() => packBatch([{ ...m, replyTo: 0n, nonce: 1n << 256n }])).to.throw(RangeError);
    expect(() => packBatch([{ ...m, replyTo: 0n, nonce: -1n }])).to.throw(RangeError);
  });
});
