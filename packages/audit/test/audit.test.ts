/**
 * The audit against a real history on a real hardhat node, then against forged copies
 * of that history (recorded through the log-source interface, then tampered with).
 * Every forgery must be caught and named precisely: the exact set of discrepancy kinds.
 */
import { expect } from "chai";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import {
  audit,
  ChainLogSource,
  MemoryLogSource,
  type AuditResult,
  parseMessageEvent,
  type KafkaEventReader,
  type KafkaMessageRecord,
  type KafkaRecordResult,
  type RawLog,
} from "@chainmail/audit";
import { decodeMessagePosted, signMessage, signedMessageOf, toMessageEvent, type MessageEvent } from "@chainmail/protocol";
import { buildHistory, encodeLog, fieldsOf, forgeNext, type History } from "./audit-fixture.js";
import { CHAINMAIL_CLI, REPO_ROOT, startHardhatNode, type RunningNode } from "@chainmail/testkit";

function kinds(result: AuditResult): string[] {
  return result.report.discrepancies.map((d) => `${d.kind}${d.seq ? `@${d.channelName}#${d.seq}` : `@${d.channelName ?? "-"}`}`).sort();
}

describe("audit on a real hardhat node", function () {
  let node: RunningNode;
  let history: History;
  let recorded: MemoryLogSource;

  before(async function () {
    node = await startHardhatNode();
    history = await buildHistory(node.provider);
    recorded = await MemoryLogSource.record(new ChainLogSource(node.provider, history.location.address));
  });
  after(async function () {
    await node?.stop();
  });

  /** A fresh copy of the recording to tamper with. */
  function copy(): MemoryLogSource {
    return new MemoryLogSource(
      recorded.registry,
      { ...recorded.blocks },
      recorded.messages.map((l) => ({ ...l })),
      recorded.roles.map((l) => ({ ...l })),
      new Map([...recorded.states].map(([k, v]) => [k, { ...v }])),
    );
  }
  /** The hash the recorded logs give block n (a forger keeps it consistent), or a made-up one for a block without logs. */
  function hashAt(source: MemoryLogSource, n: number): string {
    return [...source.messages, ...source.roles].find((l) => l.blockNumber === n)?.blockHash ?? "0x" + "77".repeat(32);
  }
  function find(source: MemoryLogSource, channel: string, seq: bigint): number {
    const i = source.messages.findIndex((l) => l.topics[1] === channel && fieldsOf(l).seq === seq);
    if (i < 0) throw new Error(`no log for seq ${seq}`);
    return i;
  }

  it("passes a clean history of several channels read over JSON-RPC in small block ranges", async function () {
    const result = await audit(new ChainLogSource(node.provider, history.location.address, { blockRange: 3 }));
    expect(result.report.discrepancies).to.deep.equal([]);
    expect(result.report.ok).to.equal(true);
    expect(result.report.totals.messages).to.equal(history.posted).and.to.equal(10);
    const byName = Object.fromEntries(result.report.channels.map((c) => [c.name, c]));
    expect(Object.keys(byName)).to.have.members(["general", "ops", "hr", "empty"]);
    expect(byName.general.lastSeq).to.equal("5");
    expect(byName.general.recomputedHead).to.equal(byName.general.storedHead);
    expect(byName.empty.messages).to.equal(0);
    expect(result.messages.every((m) => m.problems.length === 0 && m.signature === "ecdsa")).to.equal(true);
  });

  it("audits only the channels asked for, and refuses an unknown one", async function () {
    const result = await audit(copy(), { channels: [history.channels.ops] });
    expect(result.report.channels.map((c) => c.name)).to.deep.equal(["ops"]);
    expect(result.report.totals.messages).to.equal(3);
    let error: unknown;
    try {
      await audit(copy(), { channels: ["0x" + "ab".repeat(32)] });
    } catch (e) {
      error = e;
    }
    expect(String(error)).to.match(/does not exist on registry/);
  });

  it("gives the same verdict with worker threads and with every recovery backend", async function () {
    for (const recovery of ["native", "noble", "ethers"] as const) {
      const clean = await audit(copy(), { recovery, workers: 2 });
      expect(clean.report.ok, recovery).to.equal(true);
      const forged = copy();
      const i = find(forged, history.channels.general, 2n);
      forged.messages[i] = encodeLog({ ...fieldsOf(forged.messages[i]), body: "0x6576696c" }, forged.messages[i]);
      expect(kinds(await audit(forged, { recovery, workers: 2 })), recovery).to.deep.equal(["BODY_ALTERED@general#2"]);
    }
  });

  it("catches a body altered after the fact", async function () {
    const forged = copy();
    const i = find(forged, history.channels.general, 3n);
    forged.messages[i] = encodeLog({ ...fieldsOf(forged.messages[i]), body: "0x" + Buffer.from("agenda REPLACED").toString("hex") }, forged.messages[i]);
    const result = await audit(forged);
    expect(kinds(result)).to.deep.equal(["BODY_ALTERED@general#3"]);
    expect(result.report.ok).to.equal(false);
    expect(result.messages.find((m) => m.seq === 3n && m.channel === history.channels.general)!.problems).to.deep.equal(["BODY_ALTERED"]);
  });

  it("catches two messages swapped in the log (positions exchanged)", async function () {
    const forged = copy();
    const a = find(forged, history.channels.general, 2n);
    const b = find(forged, history.channels.general, 3n);
    const pos = (l: RawLog) => ({ blockNumber: l.blockNumber, blockHash: l.blockHash, transactionHash: l.transactionHash, index: l.index });
    const [pa, pb] = [pos(forged.messages[a]), pos(forged.messages[b])];
    forged.messages[a] = { ...forged.messages[a], ...pb };
    forged.messages[b] = { ...forged.messages[b], ...pa };
    expect(kinds(await audit(forged))).to.deep.equal(["SEQ_ORDER@general#2"]);
  });

  it("catches two messages' contents swapped under their original seq and head", async function () {
    const forged = copy();
    const a = find(forged, history.channels.ops, 1n);
    const b = find(forged, history.channels.ops, 2n);
    const fa = fieldsOf(forged.messages[a]);
    const fb = fieldsOf(forged.messages[b]);
    forged.messages[a] = encodeLog({ ...fb, seq: fa.seq, head: fa.head }, forged.messages[a]);
    forged.messages[b] = encodeLog({ ...fa, seq: fb.seq, head: fb.head }, forged.messages[b]);
    expect(kinds(await audit(forged))).to.deep.equal(["HEAD_MISMATCH@ops#1", "HEAD_MISMATCH@ops#2"]);
  });

  it("catches a forged head (message intact): there and at the next link, which no longer follows", async function () {
    const forged = copy();
    const i = find(forged, history.channels.general, 2n);
    forged.messages[i] = encodeLog({ ...fieldsOf(forged.messages[i]), head: "0x" + "42".repeat(32) }, forged.messages[i]);
    const result = await audit(forged);
    expect(kinds(result)).to.deep.equal(["HEAD_MISMATCH@general#2", "HEAD_MISMATCH@general#3"]);
    expect(result.report.discrepancies.find((d) => d.seq === "2")!.actual).to.equal("0x" + "42".repeat(32));
  });

  it("catches a missing seq in the middle and at the end", async function () {
    const forged = copy();
    forged.messages.splice(find(forged, history.channels.general, 2n), 1);
    expect(kinds(await audit(forged))).to.deep.equal(["SEQ_GAP@general#3"]);
    const tail = copy();
    tail.messages.splice(find(tail, history.channels.general, 5n), 1);
    const result = await audit(tail);
    expect(kinds(result)).to.deep.equal(["SEQ_GAP@general"]);
    expect(result.report.discrepancies[0].detail).to.match(/seq 5 is missing/);
  });

  it("catches a duplicated seq", async function () {
    const forged = copy();
    const original = forged.messages[find(forged, history.channels.general, 2n)];
    const last = forged.messages[forged.messages.length - 1];
    forged.messages.push({ ...original, blockNumber: last.blockNumber + 1, blockHash: hashAt(forged, last.blockNumber + 1), index: 0 });
    forged.blocks.toBlock = last.blockNumber + 1;
    expect(kinds(await audit(forged))).to.deep.equal(["SEQ_DUPLICATE@general#2"]);
  });

  it("catches a signature that is not the author's", async function () {
    const forged = copy();
    const i = find(forged, history.channels.general, 4n);
    const fields = fieldsOf(forged.messages[i]);
    // carol (a member too) signs exactly what bob signed: a valid signature, by the wrong key.
    expect(fields.author).to.equal(history.wallets.bob.address);
    const { signature } = await (await import("@chainmail/protocol")).signMessage(history.wallets.carol, history.location, fields);
    forged.messages[i] = encodeLog({ ...fields, signature }, forged.messages[i]);
    const result = await audit(forged);
    expect(kinds(result)).to.deep.equal(["BAD_SIGNATURE@general#4"]);
    expect(result.report.discrepancies[0].actual).to.equal(history.wallets.carol.address.toLowerCase());
  });

  it("asks EIP-1271 when a signature is not the author's ECDSA one: valid passes, unanswerable is SIGNATURE_UNCHECKED (never verified), refused is BAD_SIGNATURE", async function () {
    const forge = (answer?: "valid" | "invalid" | "unavailable") => {
      const forged = copy();
      const i = find(forged, history.channels.ops, 2n);
      // As if bob were a contract wallet whose own scheme produced these 65 bytes.
      forged.messages[i] = encodeLog({ ...fieldsOf(forged.messages[i]), signature: "0x" + "5a".repeat(64) + "1b" }, forged.messages[i]);
      if (answer) forged.wallets.set(history.wallets.bob.address.toLowerCase(), answer);
      return forged;
    };
    const valid = await audit(forge("valid"));
    expect(kinds(valid)).to.deep.equal([]);
    expect(valid.messages.find((m) => m.channel === history.channels.ops && m.seq === 2n)!.signature).to.equal("eip1271");
    const unverified = await audit(forge("unavailable"));
    expect(unverified.report.ok).to.equal(false);
    expect(kinds(unverified)).to.deep.equal(["SIGNATURE_UNCHECKED@ops#2"]);
    expect(unverified.messages.find((m) => m.channel === history.channels.ops && m.seq === 2n)!.signature).to.equal("eip1271-unverified");
    expect(kinds(await audit(forge("invalid")))).to.deep.equal(["BAD_SIGNATURE@ops#2"]);
    expect(kinds(await audit(forge()))).to.deep.equal(["BAD_SIGNATURE@ops#2"]);
  });

  it("catches a properly signed message by a non-member (forged log, consistent head and stored state)", async function () {
    const forged = copy();
    const last = forged.messages[find(forged, history.channels.general, 5n)];
    const { log, fields } = await forgeNext(history.location, history.wallets.mallory, fieldsOf(last), "I am not a member", {
      blockNumber: last.blockNumber,
      blockHash: last.blockHash,
      transactionHash: last.transactionHash,
      index: last.index + 50,
    });
    forged.messages.push(log);
    forged.states.set(history.channels.general, { ...forged.states.get(history.channels.general)!, seq: fields.seq, head: fields.head });
    expect(kinds(await audit(forged))).to.deep.equal(["AUTHOR_NOT_MEMBER@general#6"]);
  });

  it("catches a message by a member after the revocation (same key, forged later log)", async function () {
    const forged = copy();
    const last = forged.messages[find(forged, history.channels.hr, 2n)];
    const { log, fields } = await forgeNext(history.location, history.wallets.dave, fieldsOf(last), "still here", {
      blockNumber: history.revokedAt + 1,
      blockHash: hashAt(forged, history.revokedAt + 1),
      transactionHash: "0x" + "78".repeat(32),
      index: 0,
    });
    forged.messages.push(log);
    forged.blocks.toBlock = history.revokedAt + 1;
    forged.states.set(history.channels.hr, { ...forged.states.get(history.channels.hr)!, seq: fields.seq, head: fields.head });
    expect(kinds(await audit(forged))).to.deep.equal(["AUTHOR_NOT_MEMBER@hr#3"]);
    // The same message before the revocation's block would have been fine.
    const before = copy();
    before.messages.push({ ...log, blockNumber: history.revokedAt - 1, blockHash: hashAt(before, history.revokedAt - 1), index: 99 });
    before.states.set(history.channels.hr, { ...before.states.get(history.channels.hr)!, seq: fields.seq, head: fields.head });
    expect(kinds(await audit(before))).to.deep.equal([]);
  });

  it("catches a last head that does not match the stored one", async function () {
    const forged = copy();
    forged.states.set(history.channels.ops, { ...forged.states.get(history.channels.ops)!, head: "0x" + "12".repeat(32) });
    const result = await audit(forged);
    expect(kinds(result)).to.deep.equal(["STORED_HEAD_MISMATCH@ops"]);
    expect(result.report.discrepancies[0].expected).to.equal("0x" + "12".repeat(32));
  });

  it("catches a log that is not a well-formed MessagePosted log", async function () {
    const forged = copy();
    const i = find(forged, history.channels.ops, 3n);
    forged.messages[i] = { ...forged.messages[i], data: forged.messages[i].data.slice(0, 200) };
    expect(kinds(await audit(forged))).to.deep.equal(["MALFORMED_LOG@ops", "SEQ_GAP@ops"]);
  });

  describe("against Kafka (forged records through the reader interface)", function () {
    /** The chain's events as the mirror publishes them, parsed back as the audit reads them; `tamper` works on the parsed records. */
    async function kafkaCheck(tamper: (events: KafkaRecordResult[]) => KafkaRecordResult[]) {
      const context = { chainId: history.location.chainId, registry: history.location.address };
      const events: KafkaRecordResult[] = copy().messages.map((l, i) => ({
        partition: 0,
        offset: String(i),
        ...(parseMessageEvent(JSON.stringify(toMessageEvent(context, decodeMessagePosted(history.location, l)))) as Omit<KafkaMessageRecord, "partition" | "offset">),
      }));
      const tampered = tamper(events);
      const reader: KafkaEventReader = { brokers: ["test"], topic: "forged", read: async () => ({ records: tampered.length, events: tampered }) };
      return audit(copy(), { kafka: reader });
    }
    const at = (events: KafkaRecordResult[], name: string, seq: bigint) =>
      events.findIndex((e) => "seq" in e && e.channel.startsWith("0x" + Buffer.from(name).toString("hex")) && e.seq === seq);

    it("passes when Kafka holds exactly the chain's events", async function () {
      const result = await kafkaCheck((e) => e);
      expect(kinds(result)).to.deep.equal([]);
      expect(result.report.kafka).to.include({ messageEvents: 10, ok: true });
    });
    it("names an event missing from Kafka", async function () {
      const result = await kafkaCheck((e) => e.filter((_, i) => i !== at(e, "ops", 2n)));
      expect(kinds(result)).to.deep.equal(["KAFKA_MISSING@ops#2"]);
    });
    it("names an event doubled in Kafka", async function () {
      const result = await kafkaCheck((e) => [...e, { ...e[at(e, "general", 3n)], offset: "99" }]);
      expect(kinds(result)).to.deep.equal(["KAFKA_DUPLICATE@general#3"]);
    });
    it("names an event whose claimed digest differs in Kafka (its fields still hash to the chain's): BODY_ALTERED, once", async function () {
      const result = await kafkaCheck((e) => e.map((x, i) => (i === at(e, "hr", 1n) ? { ...x, digest: "0x" + "ee".repeat(32) } : x)));
      expect(kinds(result)).to.deep.equal(["BODY_ALTERED@hr#1"]);
    });
    /** The chain's events as the mirror publishes them (full message events), tampered with, then read back by the audit's parser. */
    async function kafkaEventsCheck(tamper: (events: MessageEvent[]) => MessageEvent[], options: { channels?: string[] } = {}) {
      const context = { chainId: history.location.chainId, registry: history.location.address };
      const events = copy().messages.map((l) => toMessageEvent(context, decodeMessagePosted(history.location, l)));
      const records = tamper(events).map((e, i): KafkaRecordResult => {
        return { partition: 0, offset: String(i), ...parseMessageEvent(JSON.stringify(e)) };
      });
      const reader: KafkaEventReader = { brokers: ["test"], topic: "forged", read: async () => ({ records: records.length, events: records }) };
      return audit(copy(), { kafka: reader, ...options });
    }
    const isAt = (e: MessageEvent, name: string, seq: string) => e.channelName === name && e.seq === seq;

    it("re-verifies full copies by their own fields: a clean topic passes", async function () {
      const result = await kafkaEventsCheck((e) => e);
      expect(kinds(result)).to.deep.equal([]);
      expect(result.report.kafka).to.include({ messageEvents: 10, ok: true });
    });
    it("catches a copy whose body was altered under the original digest (as tail does)", async function () {
      const result = await kafkaEventsCheck((e) => e.map((x) => (isAt(x, "general", "3") ? { ...x, body: "0x" + Buffer.from("agenda REPLACED").toString("hex") } : x)));
      expect(kinds(result)).to.deep.equal(["BODY_ALTERED@general#3"]);
      expect(result.report.discrepancies[0].detail).to.match(/in Kafka \(partition 0, offset \d+\): its fields hash to 0x[0-9a-f]{64}, but the record claims digest/);
      expect(result.messages.find((m) => m.seq === 3n && m.channel === history.channels.general)!.problems).to.deep.equal(["BODY_ALTERED"]);
    });
    it("catches a copy signed by someone else (as tail does)", async function () {
      // carol (a member too) signs exactly what bob signed: digest and head intact, the signature by the wrong key.
      const context = { chainId: history.location.chainId, registry: history.location.address };
      const target = copy().messages.map((l) => toMessageEvent(context, decodeMessagePosted(history.location, l))).find((x) => isAt(x, "general", "4"))!;
      expect(target.author).to.equal(history.wallets.bob.address);
      const signature = (await signMessage(history.wallets.carol, history.location, signedMessageOf(target))).signature.toLowerCase();
      const result = await kafkaEventsCheck((e) => e.map((x) => (isAt(x, "general", "4") ? { ...x, signature } : x)));
      expect(kinds(result)).to.deep.equal(["BAD_SIGNATURE@general#4"]);
    });
    it("catches a copy with a wrong head, and a gap in the copies (as tail does)", async function () {
      // The copy's head does not follow its predecessor's, nor does the next copy's follow it; and it is not the chain's.
      const wrongHead = await kafkaEventsCheck((e) => e.map((x) => (isAt(x, "general", "2") ? { ...x, head: "0x" + "42".repeat(32) } : x)));
      expect(kinds(wrongHead)).to.deep.equal(["HEAD_MISMATCH@general#2", "HEAD_MISMATCH@general#3", "KAFKA_MISMATCH@general#2"]);
      const gap = await kafkaEventsCheck((e) => e.filter((x) => !isAt(x, "general", "2")));
      expect(kinds(gap)).to.deep.equal(["KAFKA_MISSING@general#2"]);
    });
    it("names a message event that is not complete: KAFKA_MALFORMED, as tail names it", async function () {
      const result = await kafkaEventsCheck((e) => e.map((x) => (isAt(x, "ops", "1") ? ({ ...x, body: undefined } as unknown as MessageEvent) : x)));
      expect(kinds(result)).to.deep.equal(["KAFKA_MALFORMED@-", "KAFKA_MISSING@ops#1"]);
    });
    it("names events out of order in Kafka", async function () {
      const result = await kafkaCheck((e) => {
        const a = at(e, "general", 1n);
        const b = at(e, "general", 2n);
        const copyOf = e.slice();
        [copyOf[a], copyOf[b]] = [copyOf[b], copyOf[a]];
        return copyOf;
      });
      expect(kinds(result)).to.deep.equal(["KAFKA_ORDER@general#1"]);
    });
    it("catches a copy whose author, timestamp or nonce was changed under the original digest", async function () {
      for (const change of [
        (x: MessageEvent) => ({ ...x, author: history.wallets.carol.address }),
        (x: MessageEvent) => ({ ...x, timestamp: String(BigInt(x.timestamp) + 1n) }),
        (x: MessageEvent) => ({ ...x, nonce: String(BigInt(x.nonce) ^ 1n) }),
        (x: MessageEvent) => ({ ...x, replyTo: "1" }),
        (x: MessageEvent) => ({ ...x, contentType: 2 }),
      ]) {
        const result = await kafkaEventsCheck((e) => e.map((x) => (isAt(x, "general", "3") ? change(x) : x)));
        expect(kinds(result)).to.include("BODY_ALTERED@general#3");
        expect(result.report.ok).to.equal(false);
      }
    });
    it("refuses copies relabelled with another chain id or registry (KAFKA_FOREIGN, and the real one is missing) and another block hash (KAFKA_MISMATCH)", async function () {
      const chainId = await kafkaEventsCheck((e) => e.map((x) => (isAt(x, "ops", "1") ? { ...x, chainId: "999" } : x)));
      expect(kinds(chainId)).to.deep.equal(["KAFKA_FOREIGN@ops#1", "KAFKA_MISSING@ops#1"]);
      const registry = await kafkaEventsCheck((e) => e.map((x) => (isAt(x, "ops", "1") ? { ...x, registry: history.wallets.mallory.address } : x)));
      expect(kinds(registry)).to.deep.equal(["KAFKA_FOREIGN@ops#1", "KAFKA_MISSING@ops#1"]);
      const blockHash = await kafkaEventsCheck((e) => e.map((x) => (isAt(x, "ops", "1") ? { ...x, blockHash: "0x" + "77".repeat(32) } : x)));
      expect(kinds(blockHash)).to.deep.equal(["KAFKA_MISMATCH@ops#1"]);
      expect(blockHash.report.discrepancies[0].detail).to.match(/block hash 0x(77){32} instead of 0x[0-9a-f]{64}/);
    });
    it("names records of a channel the registry does not list, and records of another schema, instead of skipping them", async function () {
      const ghost = "0x" + Buffer.from("ghost").toString("hex").padEnd(64, "0");
      const unknown = await kafkaEventsCheck((e) => [...e, { ...e[0], channel: ghost, channelName: "ghost" }]);
      expect(kinds(unknown)).to.deep.equal(["KAFKA_FOREIGN@ghost#1"]);
      // Even when the audit was asked about one channel only.
      const narrowed = await kafkaEventsCheck((e) => [...e, { ...e[0], channel: ghost, channelName: "ghost" }], { channels: [history.channels.hr] });
      expect(kinds(narrowed)).to.deep.equal(["KAFKA_FOREIGN@ghost#1"]);
      const foreign = await kafkaEventsCheck((e) => [...e, { ...e[0], schema: "chainmail.message-event.v2" } as unknown as MessageEvent]);
      expect(kinds(foreign)).to.deep.equal(["KAFKA_FOREIGN@-"]);
      expect(foreign.report.discrepancies[0].detail).to.match(/"chainmail.message-event.v2" value, not a chainmail.message-event.v1 one/);
      const schemaless = await kafkaEventsCheck((e) => [...e, { ...e[0], schema: undefined } as unknown as MessageEvent]);
      expect(kinds(schemaless)).to.deep.equal(["KAFKA_MALFORMED@-"]);
    });
  });

  describe("the chainmail audit CLI against the node", function () {
    const cli = (args: string[]) =>
      spawnSync(process.execPath, [CHAINMAIL_CLI, "audit", ...args], {
        encoding: "utf8",
        timeout: 60_000,
        env: { ...process.env, PATH: `${path.join(REPO_ROOT, "node_modules/.bin")}:${process.env.PATH}` },
      });

    it("exits 0 on a clean history, prints a summary, and exports every message as CSV and JSONL", async function () {
      const dir = mkdtempSync(path.join(tmpdir(), "audit-"));
      const summary = cli(["--rpc-url", node.url, "--registry", history.location.address, "--export", "csv", "--out", path.join(dir, "m.csv")]);
      expect(summary.status, summary.stderr).to.equal(0);
      expect(summary.stdout).to.match(/Verified 10 messages in 4 channels/).and.match(/Clean:/);
      const csv = readFileSync(path.join(dir, "m.csv"), "utf8").trim().split("\n");
      expect(csv[0]).to.equal("channel,channelName,seq,author,blockNumber,transactionHash,logIndex,digest,head,signature,status,problems");
      expect(csv).to.have.length(11);
      expect(csv.slice(1).every((line) => line.includes(",ecdsa,ok,"))).to.equal(true);

      const json = cli(["--rpc-url", node.url, "--registry", history.location.address, "--channel", "general", "--json", "--export", "jsonl", "--out", path.join(dir, "m.jsonl")]);
      expect(json.status, json.stderr).to.equal(0);
      const report = JSON.parse(json.stdout);
      expect(report).to.include({ ok: true });
      expect(report.totals.messages).to.equal(5);
      const lines = readFileSync(path.join(dir, "m.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l));
      expect(lines.map((l) => l.seq)).to.deep.equal(["1", "2", "3", "4", "5"]);
    });

    it("exits 2 with one sentence on wrong input", async function () {
      const cases: Array<[string[], RegExp]> = [
        [["--registry", history.location.address], /--rpc-url \(or CHAINMAIL_RPC_URL\) is not set/],
        [["--rpc-url", node.url, "--registry", "0x1234"], /--registry is "0x1234"; it must be an Ethereum address/],
        [["--rpc-url", node.url, "--registry", history.location.address, "--export", "xml", "--out", "x"], /--export is "xml"; it must be one of jsonl, csv/],
        [["--rpc-url", node.url, "--registry", history.location.address, "--channel", "nope"], /Channel "nope" does not exist/],
        [["--rpc-url", node.url, "--registry", "0x" + "12".repeat(20)], /There is no contract at/],
        [["--rpc-url", node.url, "--registry", history.location.address, "--bogus"], /Unknown option '--bogus'/],
      ];
      for (const [args, message] of cases) {
        const r = cli(args);
        expect(r.status, args.join(" ")).to.equal(2);
        expect(r.stderr, args.join(" ")).to.match(message);
        expect(r.stderr).not.to.match(/\n\s+at /); // no stack trace
      }
    });

  });
});
