/**
 * Unit tests of the audit's building blocks (no chain): the protocol's bulk decoder is
 * byte-for-byte the reference decoder, and membership honours log order
 * inside a block.
 */
import { expect } from "chai";
import { AbiCoder, Wallet, zeroPadValue } from "ethers";
import {
  MembershipHistory,
  packBatch,
  packLogs,
  prepareBatch,
  unpackBatch,
  unpackLogs,
  type RawLog,
} from "@chainmail/audit";
import { recoveryBackend } from "@chainmail/protocol/signatures";
import { messagePostedOffsets, ROLE_GRANTED_TOPIC, ROLE_REVOKED_TOPIC } from "@chainmail/protocol";
import {
  bodyFromText,
  channelId,
  decodeMessagePosted,
  encodeMessagePosted,
  digestOf,
  GENESIS_HEAD,
  MalformedLogError,
  memberRoleOf,
  MessagePostedDecoder,
  nextHead,
  recoverAuthor,
  registryInterface,
  signMessage,
  type SignedMessage,
} from "@chainmail/protocol";

const registry = { chainId: 31337n, address: "0x5FbDB2315678afecb367f032d93F642f64180aa3" };
const author = new Wallet("0x" + "42".repeat(32));

async function signed(i: number): Promise<SignedMessage> {
  return signMessage(author, registry, {
    channel: channelId(i % 2 ? "general" : "a-much-longer-channel-name-31b"),
    author: author.address,
    body: bodyFromText("é".repeat(i % 97) + `#${i}`),
    contentType: 1 + (i % 3),
    timestamp: 1_700_000_000n + BigInt(i),
    replyTo: BigInt(i >> 1),
    nonce: (1n << 255n) / BigInt(i + 1),
  });
}

function logOf(m: SignedMessage, seq: bigint, head: string, index = 0): RawLog {
  const { data, topics } = encodeMessagePosted({ ...m, seq, head });
  return { address: registry.address, topics, data, blockNumber: 7, blockHash: "0x" + "01".repeat(32), transactionHash: "0x" + "02".repeat(32), index };
}

describe("audit building blocks", function () {
  it("MessagePostedDecoder decodes exactly like decodeMessagePosted, digest included", async function () {
    const decoder = new MessagePostedDecoder(registry);
    let head = GENESIS_HEAD;
    for (let i = 0; i < 60; i++) {
      const m = await signed(i);
      head = nextHead(head, digestOf(registry, m), i + 1);
      const log = logOf(m, BigInt(i + 1), head, i);
      expect(decoder.decode(log)).to.deep.equal(decodeMessagePosted(registry, log));
    }
    // Another registry (other chain id) gives another digest: the domain is bound in.
    const other = new MessagePostedDecoder({ chainId: 1n, address: registry.address });
    const log = logOf(await signed(1), 1n, GENESIS_HEAD);
    expect(other.decode(log).digest).to.not.equal(decoder.decode(log).digest);
  });

  it("lean decoding gives the same digest, head, seq and author as the full decoder", async function () {
    const decoder = new MessagePostedDecoder(registry);
    const log = logOf(await signed(9), 4n, "0x" + "34".repeat(32));
    const full = decoder.decode(log);
    const lean = decoder.lean(log);
    expect(lean).to.include({ channel: full.channel, seq: full.seq, author: full.author.toLowerCase(), head: full.head, digest: full.digest });
    expect("0x" + Buffer.from(lean.signatureBytes).toString("hex")).to.equal(full.signature);
  });

  it("refuses logs that are not exactly what Solidity emits, where a lenient decoder would mask bits", async function () {
    const decoder = new MessagePostedDecoder(registry);
    const good = logOf(await signed(3), 1n, GENESIS_HEAD);
    // The packed layout (protocol messagePostedOffsets): the signature length after the nonce and head, then the signature and the body.
    const at = messagePostedOffsets(Buffer.from(good.data.slice(2), "hex"));
    const setByte = (log: RawLog, i: number, value: number) => ({ ...log, data: log.data.slice(0, 2 + 2 * i) + value.toString(16).padStart(2, "0") + log.data.slice(4 + 2 * i) });
    const withSignatureLength = (log: RawLog, length: number) => ({
      ...log,
      data: log.data.slice(0, 2 + at.signatureLength * 2) + length.toString(16).padStart(4, "0") + log.data.slice(2 + at.signature * 2),
    });
    const cases: Array<[string, RawLog]> = [
      ["wrong event", { ...good, topics: [ROLE_GRANTED_TOPIC, ...good.topics.slice(1)] }],
      ["signature running past the end", withSignatureLength(good, (good.data.length - 2) / 2)],
      ["truncated data (inside the header)", { ...good, data: good.data.slice(0, 2 + 2 * (at.signature - 1)) }],
      ["truncated data (before the lengths)", { ...good, data: good.data.slice(0, 2 + 2 * 9) }],
      ["replyTo longer than uint64", setByte(good, 9, 9)],
      ["nonce longer than uint256", setByte(good, at.nonce - 1, 33)],
      ["a topic missing", { ...good, topics: good.topics.slice(0, 3) }],
      ["seq topic over uint64", { ...good, topics: [good.topics[0], good.topics[1], "0x01" + good.topics[2].slice(4), good.topics[3]] }],
      ["not hex", { ...good, data: good.data.slice(0, -2) + "zz" }],
      ["author topic not an address", { ...good, topics: [...good.topics.slice(0, 3), "0xff" + good.topics[3].slice(4)] }],
    ];
    for (const [what, log] of cases) expect(() => decoder.decode(log), what).to.throw(MalformedLogError);
  });

  it("worker framing: logs and prepared batches survive the trip, and a hostile field cannot break the framing", async function () {
    const decoder = new MessagePostedDecoder(registry);
    const good = logOf(await signed(2), 1n, GENESIS_HEAD, 3);
    const hostile = { ...good, index: 4, data: good.data + "\n2\n0x00" };
    const logs = unpackLogs(packLogs([good, hostile]));
    expect(logs[0]).to.deep.equal(good);
    expect(logs).to.have.length(2);
    const batch = prepareBatch(decoder, recoveryBackend("native"), logs);
    expect(batch.items.map((i) => i.ok)).to.deep.equal([true, false]);
    expect(unpackBatch(packBatch(batch))).to.deep.equal(batch);
  });

  it("membership: a grant earlier in the same block counts, a later one does not; a revocation ends it", function () {
    const channel = channelId("general");
    const role = memberRoleOf(channel);
    const who = "0x" + "ab".repeat(20);
    const roleLog = (topic: string, blockNumber: number, index: number): RawLog => ({
      address: registry.address,
      topics: [topic, role, zeroPadValue(who, 32), zeroPadValue("0x01", 32)],
      data: "0x",
      blockNumber,
      blockHash: "0x",
      transactionHash: "0x",
      index,
    });
    const history = new MembershipHistory();
    history.add([roleLog(ROLE_REVOKED_TOPIC, 20, 4), roleLog(ROLE_GRANTED_TOPIC, 10, 2)]);
    expect(history.hadRole(role, who, 10, 1)).to.equal(false);
    expect(history.hadRole(role, who, 10, 2)).to.equal(false);
    expect(history.hadRole(role, who, 10, 3)).to.equal(true);
    expect(history.hadRole(role, who.toUpperCase().replace("0X", "0x"), 15, 0)).to.equal(true);
    expect(history.hadRole(role, who, 20, 4)).to.equal(true);
    expect(history.hadRole(role, who, 20, 5)).to.equal(false);
    expect(history.hadRole(memberRoleOf(channelId("ops")), who, 15, 0)).to.equal(false);
  });
});
