/**
 * Route tests (app.inject) against a relayer connected to a real hardhat node: every
 * class of bad input gets its status, code and sentence and sends nothing on-chain;
 * good input lands exactly once.
 */
import { expect } from "chai";
import { Wallet, Signature, toBeHex } from "ethers";
import { channelId, memberRoleOf, reasonSentence, signMessage, MESSAGE_POSTED_TOPIC, decodeMessagePosted } from "@chainmail/protocol";
import { buildApp, type RelayerApp } from "@chainmail/relayer";
import { waitFor } from "@chainmail/testkit";
import { createChannelWithMembers } from "@chainmail/testkit";
import { digestOf } from "@chainmail/protocol";
import { MessageProbe } from "../src/probe.js";
import { startFixture, toJson, type Fixture } from "./fixture.js";

describe("relayer routes (app.inject, real hardhat node)", function () {
  let f: Fixture;
  let app: RelayerApp;
  let relayerAddress: string;

  before(async function () {
    f = await startFixture();
    app = await buildApp(f.config({ httpBodyLimitBytes: 32 * 1024 }), { defaultMetrics: false });
    relayerAddress = new Wallet(f.relayerKey).address;
  });
  after(async function () {
    await app?.close();
    await f?.node.stop();
  });

  const post = (payload: unknown, url = "/v1/messages?wait=true", headers: Record<string, string> = {}) =>
    app.inject({ method: "POST", url, payload: payload as string, headers });

  /** Runs `fn` and asserts the relayer sent no transaction meanwhile. */
  async function noTransaction(fn: () => Promise<void>) {
    const before = await f.node.provider.getTransactionCount(relayerAddress, "pending");
    await fn();
    expect(await f.node.provider.getTransactionCount(relayerAddress, "pending")).to.equal(before, "a refused message must not cost gas");
  }

  function expectError(response: { statusCode: number; body: string }, status: number, code: string, what = "") {
    expect(response.statusCode, `${what} ${response.body}`).to.equal(status);
    const json = JSON.parse(response.body);
    expect(json.code, what).to.equal(code);
    expect(json.message).to.be.a("string").and.match(/\.$/);
    expect(response.body).not.to.match(/\bat .*\.(ts|js):\d+/, "no stack trace");
  }

  describe("a good message", function () {
    it("is confirmed with ?wait=true: seq, head, transaction and block, matching the chain", async function () {
      const m = await f.sign(f.authors[0], "hello, world");
      const response = await post(toJson(m));
      expect(response.statusCode, response.body).to.equal(200);
      const json = JSON.parse(response.body);
      expect(json.status).to.equal("confirmed");
      const [, , seq, head] = await f.deployed.registry.channelInfo(f.channel);
      expect(json.seq).to.equal(seq.toString());
      expect(json.head).to.equal(head);
      const receipt = await f.node.provider.getTransactionReceipt(json.transactionHash);
      expect(receipt!.blockNumber).to.equal(json.blockNumber);
      const log = receipt!.logs.find((l) => l.topics[0] === MESSAGE_POSTED_TOPIC)!;
      expect(decodeMessagePosted(f.location, log).digest).to.equal(json.digest);
    });

    it("is held with Prefer: wait as well", async function () {
      const m = await f.sign(f.authors[1], "prefer wait");
      const response = await post(toJson(m), "/v1/messages", { prefer: "wait" });
      expect(response.statusCode, response.body).to.equal(200);
      expect(JSON.parse(response.body).status).to.equal("confirmed");
    });

    it("is accepted with 202, a status URL and a note that 202 is not a record; the status turns confirmed", async function () {
      const m = await f.sign(f.authors[2], "accept me");
      const response = await post(toJson(m), "/v1/messages");
      expect(response.statusCode, response.body).to.equal(202);
      const json = JSON.parse(response.body);
      expect(json.status).to.equal("pending");
      expect(json.statusUrl).to.equal(`/v1/messages/${json.digest}`);
      expect(response.headers.location).to.equal(json.statusUrl);
      expect(json.note).to.match(/persisted by the relayer, which finishes it after a restart/);
      const status = await waitFor("the message to be confirmed", async () => {
        const s = JSON.parse((await app.inject({ method: "GET", url: json.statusUrl })).body);
        return s.status === "confirmed" ? s : undefined;
      });
      expect(status.seq).to.match(/^\d+$/);
    });

    it("posted twice returns the first outcome and is never duplicated", async function () {
      const m = await f.sign(f.authors[3], "only once");
      const first = JSON.parse((await post(toJson(m))).body);
      const [, , seqAfterFirst] = await f.deployed.registry.channelInfo(f.channel);
      await noTransaction(async () => {
        const again = await post(toJson(m));
        expect(again.statusCode).to.equal(200);
        expect(JSON.parse(again.body)).to.deep.equal(first);
        const accepted = await post(toJson(m), "/v1/messages");
        expect(JSON.parse(accepted.body).seq).to.equal(first.seq);
      });
      const [, , seqAfterAll] = await f.deployed.registry.channelInfo(f.channel);
      expect(seqAfterAll).to.equal(seqAfterFirst);
    });

    it("two concurrent posts of one message give one seq", async function () {
      const m = await f.sign(f.authors[0], "concurrent duplicate");
      const [a, b] = await Promise.all([post(toJson(m)), post(toJson(m))]);
      expect(JSON.parse(a.body).seq).to.equal(JSON.parse(b.body).seq);
      const logs = await f.node.provider.getLogs({ address: f.location.address, topics: [MESSAGE_POSTED_TOPIC], fromBlock: 0 });
      const digests = logs.map((l) => decodeMessagePosted(f.location, l).digest);
      expect(digests.filter((d) => d === JSON.parse(a.body).digest)).to.have.length(1);
    });
  });

  describe("refused before any gas is spent", function () {
    it("malformed JSON: 400 InvalidRequest", async function () {
      await noTransaction(async () => {
        expectError(await post('{"channel": ', "/v1/messages", { "content-type": "application/json" }), 400, "InvalidRequest");
        expectError(await post("", "/v1/messages", { "content-type": "application/json" }), 400, "InvalidRequest");
      });
    });

    it("wrong types, missing fields, unknown fields, bad hex: 400 InvalidRequest naming the field", async function () {
      const m = toJson(await f.sign(f.authors[0], "typed"));
      await noTransaction(async () => {
        let r = await post({ ...m, contentType: "1" });
        expectError(r, 400, "InvalidRequest");
        expect(JSON.parse(r.body).message).to.match(/contentType/);
        r = await post({ ...m, nonce: 5 });
        expectError(r, 400, "InvalidRequest");
        const { signature: _s, ...missing } = m;
        r = await post(missing);
        expectError(r, 400, "InvalidRequest");
        expect(JSON.parse(r.body).message).to.match(/signature/);
        r = await post({ ...m, extra: "field" });
        expectError(r, 400, "InvalidRequest");
        expect(JSON.parse(r.body).message).to.match(/unknown field "extra"/);
        expectError(await post({ ...m, body: "0xabc" }), 400, "InvalidRequest");
        expectError(await post({ ...m, channel: "general" }), 400, "InvalidRequest");
        expectError(await post({ ...m, timestamp: "18446744073709551616" }), 400, "InvalidRequest");
        expectError(await post({ ...m, author: String(m.author).replace(/[a-f]/, (c: string) => c.toUpperCase()) }), 400, "InvalidRequest");
        expectError(await post([m]), 400, "InvalidRequest");
        expectError(await post(m, "/v1/messages?wait=maybe"), 400, "InvalidRequest");
      });
    });

    it("an HTTP body over the limit: 413 PayloadTooLarge", async function () {
      const m = toJson(await f.sign(f.authors[0], "x"));
      await noTransaction(async () => {
        expectError(await post({ ...m, body: "0x" + "00".repeat(20_000) }), 413, "PayloadTooLarge");
      });
    });

    it("a body over the registry's maxBodyBytes: 413 BodyTooLarge; an empty body: 422 EmptyBody", async function () {
      await noTransaction(async () => {
        const big = await f.sign(f.authors[0], "", { body: "0x" + "61".repeat(4097) });
        const r = await post(toJson(big));
        expectError(r, 413, "BodyTooLarge");
        expect(JSON.parse(r.body).message).to.match(/4097 bytes; the limit is 4096/);
        expectError(await post(toJson(await f.sign(f.authors[0], "", { body: "0x" }))), 422, "EmptyBody");
      });
    });

    it("at the largest HTTP body limit an operator may set (16 MiB), a 5 MiB message body: 413 BodyTooLarge, not a crash in the hex check", async function () {
      const roomy = await buildApp(f.config({ httpBodyLimitBytes: 16 * 1024 * 1024 }), { defaultMetrics: false });
      try {
        const huge = await f.sign(f.authors[0], "", { body: "0x" + "61".repeat(5 * 1024 * 1024) });
        await noTransaction(async () => {
          const r = await roomy.inject({ method: "POST", url: "/v1/messages", payload: toJson(huge) });
          expectError(r, 413, "BodyTooLarge");
        });
      } finally {
        await roomy.close();
      }
    });

    it("a signature that does not recover to the author for this chain and registry: 422 BadSignature", async function () {
      const author = f.authors[0];
      await noTransaction(async () => {
        const good = await f.sign(author, "signed right");
        // Signed for another chain id.
        const otherChain = await signMessage(author, { chainId: 1n, address: f.location.address }, { ...good });
        let r = await post(toJson(otherChain));
        expectError(r, 422, "BadSignature");
        expect(JSON.parse(r.body).message).to.match(/chain 31337/);
        // Signed by someone else in the author's name.
        const forged = await signMessage(f.outsider, f.location, { ...good });
        r = await post(toJson({ ...forged, author: author.address }));
        expectError(r, 422, "BadSignature");
        // The sentence names who did sign, checksummed.
        expect(JSON.parse(r.body).message).to.contain(`It recovers to ${f.outsider.address};`);
        // Altered after signing.
        expectError(await post({ ...toJson(good), body: "0x" + "62".repeat(12) }), 422, "BadSignature");
        // The same signature in its malleable high-s form.
        const sig = Signature.from(good.signature);
        const n = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
        const highS = sig.r + toBeHex(n - BigInt(sig.s), 32).slice(2) + (sig.v === 27 ? "1c" : "1b");
        expectError(await post({ ...toJson(good), signature: highS }), 422, "BadSignature");
      });
    });

    it("outside the time window: 422 MessageExpired / TimestampInFuture", async function () {
      const now = BigInt(Math.floor(Date.now() / 1000));
      await noTransaction(async () => {
        const old = await f.sign(f.authors[0], "old", { timestamp: now - 4000n });
        const r = await post(toJson(old));
        expectError(r, 422, "MessageExpired");
        expect(JSON.parse(r.body).message).to.contain(reasonSentence("MessageExpired"));
        expectError(await post(toJson(await f.sign(f.authors[0], "future", { timestamp: now + 1000n }))), 422, "TimestampInFuture");
      });
    });

    it("an author who is not a member: 403 NotMember", async function () {
      await noTransaction(async () => {
        expectError(await post(toJson(await f.sign(f.outsider, "let me in"))), 403, "NotMember");
      });
    });

    it("an unknown channel: 404 UnknownChannel; a closed one: 409 ChannelClosed", async function () {
      const closed = channelId("closed");
      await (await f.deployed.registry.createChannel(closed, f.admin.address)).wait();
      await (await f.deployed.registry.connect(f.admin).grantRole(memberRoleOf(closed), f.authors[0].address)).wait();
      await (await f.deployed.registry.connect(f.admin).closeChannel(closed)).wait();
      await noTransaction(async () => {
        expectError(await post(toJson(await f.sign(f.authors[0], "where?", { channel: channelId("nowhere") }))), 404, "UnknownChannel");
        expectError(await post(toJson(await f.sign(f.authors[0], "closed?", { channel: closed }))), 409, "ChannelClosed");
      });
    });

    it("an unknown content type: 422 UnknownContentType; a reply to a future seq: 422 UnknownReply", async function () {
      await noTransaction(async () => {
        expectError(await post(toJson(await f.sign(f.authors[0], "type?", { contentType: 200 }))), 422, "UnknownContentType");
        expectError(await post(toJson(await f.sign(f.authors[0], "reply?", { replyTo: 1_000_000n }))), 422, "UnknownReply");
      });
    });

    it("a nonce the author already used for another message: 409 NonceUsed", async function () {
      const first = await f.sign(f.authors[1], "first use");
      expect((await post(toJson(first))).statusCode).to.equal(200);
      await noTransaction(async () => {
        const reuse = await f.sign(f.authors[1], "second use", { nonce: first.nonce });
        const r = await post(toJson(reuse));
        expectError(r, 409, "NonceUsed");
      });
    });

    it("over the per-author or per-client rate: 429 RateLimited with Retry-After", async function () {
      const limited = await buildApp(f.config({ rateLimitAuthorPerSecond: 1, rateLimitAuthorBurst: 2, rateLimitClientPerSecond: 1, rateLimitClientBurst: 3 }), { defaultMetrics: false });
      try {
        const bad = toJson(await f.sign(f.outsider, "spam"));
        const codes = [];
        for (let i = 0; i < 3; i++) codes.push((await limited.inject({ method: "POST", url: "/v1/messages", payload: bad })).statusCode);
        expect(codes).to.deep.equal([403, 403, 429]);
        const r = await limited.inject({ method: "POST", url: "/v1/messages", payload: toJson(await f.sign(f.authors[2], "another author")) });
        // The author is fresh but this client has used its burst of 3.
        expectError(r, 429, "RateLimited");
        expect(Number(r.headers["retry-after"])).to.be.greaterThan(0);
        expect(JSON.parse(r.body).message).to.match(/Too many requests from/);
      } finally {
        await limited.close();
      }
    });
  });

  describe("pre-check modes", function () {
    it("the probe answers membership per item's channel when one call mixes channels (the role is asked once per run of a channel)", async function () {
      // "side" has authors[0] as its only member; "general" has authors 0..3, not the outsider.
      const side = await createChannelWithMembers(f.deployed.registry, `probe-side-${Date.now()}`, f.admin, [f.authors[0].address]);
      const asked: Array<[string, Wallet]> = [
        [f.channel, f.authors[0]],
        [side, f.authors[0]],
        [side, f.authors[1]],
        [f.channel, f.authors[1]],
        [f.channel, f.outsider],
        [side, f.authors[0]],
      ];
      const items = [];
      for (const [channel, author] of asked) {
        const m = await f.sign(author, "probe", { channel });
        items.push({ author: m.author, nonce: m.nonce, channel, signed: { digest: digestOf(f.location, m), signature: m.signature } });
      }
      // Channel zero: membership not asked (the relayer's cache knows it), the rest answered.
      items.push({ ...items[0], channel: "0x" + "00".repeat(32) });
      const probe = new MessageProbe(app.services.chain.rpc, f.location.address);
      const answers = await probe.run(items);
      expect(answers.map((a) => a.member)).to.deep.equal([true, true, false, true, false, true, false]);
      expect(answers.map((a) => a.signer)).to.deep.equal([...asked.map(([, a]) => a.address.toLowerCase()), f.authors[0].address.toLowerCase()]);
      expect(answers.every((a) => !a.nonceUsed)).to.equal(true);
      // Without signatures (the relayer recovered the signers) the node answers the same, and no signer.
      const unsigned = await probe.run(items.map(({ signed: _, ...it }) => it));
      expect(unsigned.map((a) => a.member)).to.deep.equal([true, true, false, true, false, true, false]);
      expect(unsigned.every((a) => a.signer === undefined && !a.nonceUsed)).to.equal(true);
    });

    it("a member whose role is revoked is refused NotMember by the pre-check within a few seconds, though the probe no longer asks about known members", async function () {
      const name = `revoked-${Date.now()}`;
      const channel = await createChannelWithMembers(f.deployed.registry, name, f.admin, [f.authors[3].address]);
      const post = async (text: string) => app.inject({ method: "POST", url: "/v1/messages?wait=true", payload: toJson(await f.sign(f.authors[3], text, { channel })) });
      const first = await post("while a member");
      expect(JSON.parse(first.body).status, first.body).to.equal("confirmed");
      expect(app.services.chain.knownMember(channel, f.authors[3].address)).to.equal(true);
      await (await f.deployed.registry.connect(f.admin).revokeRole(memberRoleOf(channel), f.authors[3].address)).wait();
      let tries = 0;
      await waitFor("the revoked member refused by the pre-check", async () => {
        const r = await post(`after the revocation ${tries++}`);
        return r.statusCode === 403 && JSON.parse(r.body).code === "NotMember" ? true : undefined;
      }, { timeoutMs: 15_000, intervalMs: 200 });
      expect(app.services.chain.knownMember(channel, f.authors[3].address)).to.equal(false);
    });

    it("by default signers are recovered here and the rest asked of the probe; every other way (the node's ecrecover, per message) refuses the same things", async function () {
      expect(app.services.checker.mode).to.equal("probe");
      expect(app.services.checker.signerRecovery).to.equal("here");
      const ways = [
        { config: { precheckMode: "calls" as const }, options: {}, mode: "calls", recovery: "here" },
        { config: {}, options: { recoverSigners: "node" as const }, mode: "probe", recovery: "node" },
        { config: { precheckMode: "calls" as const }, options: { recoverSigners: "node" as const }, mode: "calls", recovery: "ethers" },
      ];
      for (const way of ways) {
        const other = await buildApp(f.config(way.config), { defaultMetrics: false, ...way.options });
        try {
          expect([other.services.checker.mode, other.services.checker.signerRecovery]).to.deep.equal([way.mode, way.recovery]);
          const inject = (payload: unknown) => other.inject({ method: "POST", url: "/v1/messages?wait=true", payload: payload as string });
          const good = await f.sign(f.authors[2], `checked by ${way.mode}/${way.recovery}`);
          await noTransaction(async () => {
            const forged = await signMessage(f.outsider, f.location, { ...good });
            expectError(await inject(toJson({ ...forged, author: f.authors[2].address })), 422, "BadSignature", way.recovery);
            expectError(await inject(toJson(await f.sign(f.outsider, "outsider"))), 403, "NotMember", way.recovery);
          });
          const ok = await inject(toJson(good));
          expect(JSON.parse(ok.body).status, way.recovery).to.equal("confirmed");
          await noTransaction(async () => {
            expectError(await inject(toJson(await f.sign(f.authors[2], "reused", { nonce: good.nonce }))), 409, "NonceUsed", way.recovery);
          });
        } finally {
          await other.close();
        }
      }
    });

    it("a forged signature is refused before the probe asks the node about it (signers recovered here)", async function () {
      const rpc = app.services.chain.rpc;
      const probed: unknown[] = [];
      const call = rpc.call.bind(rpc);
      rpc.call = ((method: string, params: unknown[]) => {
        // The probe's eth_call has no `to` (it runs MessageProbe's creation code); the
        // shared, cached reads (limits, channel, content types) have one.
        if (method === "eth_call" && !(params[0] as { to?: string }).to) probed.push(params);
        return call(method, params);
      }) as typeof rpc.call;
      try {
        for (let i = 0; i < 5; i++) {
          const good = await f.sign(f.authors[1], `forged ${i}`);
          const forged = await signMessage(f.outsider, f.location, { ...good });
          expectError(await app.inject({ method: "POST", url: "/v1/messages", payload: toJson({ ...forged, author: f.authors[1].address }) }), 422, "BadSignature");
        }
        expect(probed, "forgeries").to.deep.equal([]);
        await post(toJson(await f.sign(f.authors[1], "a genuine one after them")));
        expect(probed, "a genuine message is probed").to.have.length(1);
      } finally {
        rpc.call = call;
      }
    });
  });

  describe("status, channels, health, metrics, docs", function () {
    it("GET /v1/messages/{digest}: 404 UnknownMessage for an unknown digest, 400 for a malformed one", async function () {
      expectError(await app.inject({ method: "GET", url: `/v1/messages/0x${"12".repeat(32)}` }), 404, "UnknownMessage");
      expectError(await app.inject({ method: "GET", url: "/v1/messages/0x1234" }), 400, "InvalidRequest");
      expectError(await app.inject({ method: "GET", url: "/v1/nothing" }), 404, "NotFound");
    });

    it("lists channels and pages a channel's messages in seq order", async function () {
      for (let i = 0; i < 3; i++) await post(toJson(await f.sign(f.authors[i], `page ${i}`)));
      const channels = JSON.parse((await app.inject({ method: "GET", url: "/v1/channels" })).body).channels;
      const general = channels.find((c: { name: string }) => c.name === "general");
      expect(general.id).to.equal(f.channel);
      const total = Number(general.seq);
      expect(total).to.be.greaterThan(5);
      const page = JSON.parse((await app.inject({ method: "GET", url: `/v1/channels/${f.channel}/messages?fromSeq=2&limit=3` })).body);
      expect(page.messages.map((m: { seq: string }) => m.seq)).to.deep.equal(["2", "3", "4"]);
      expect(page.nextFromSeq).to.equal(5);
      const last = JSON.parse((await app.inject({ method: "GET", url: `/v1/channels/${f.channel}/messages?fromSeq=${total}&limit=10` })).body);
      expect(last.messages).to.have.length(1);
      expect(last.messages[0].text).to.equal("page 2");
      expect(last.nextFromSeq).to.equal(null);
      expectError(await app.inject({ method: "GET", url: `/v1/channels/${channelId("nowhere")}/messages` }), 404, "UnknownChannel");
      expectError(await app.inject({ method: "GET", url: `/v1/channels/${f.channel}/messages?limit=500` }), 400, "InvalidRequest");
    });

    it("/healthz, /readyz (ready; not ready with an unfunded signer), /v1/info", async function () {
      expect((await app.inject({ method: "GET", url: "/healthz" })).statusCode).to.equal(200);
      const ready = await app.inject({ method: "GET", url: "/readyz" });
      expect(ready.statusCode, ready.body).to.equal(200);
      const info = JSON.parse((await app.inject({ method: "GET", url: "/v1/info" })).body);
      expect(info).to.include({ chainId: "31337", registry: f.location.address });
      expect(info.limits).to.deep.equal({ maxBodyBytes: 4096, maxAge: 3600, maxFutureSkew: 300 });
      const poor = await buildApp(f.config({ signerKeys: [Wallet.createRandom().privateKey] }), { defaultMetrics: false });
      try {
        const r = await poor.inject({ method: "GET", url: "/readyz" });
        expect(r.statusCode).to.equal(503);
        const checks = JSON.parse(r.body).checks;
        expect(checks.find((c: { name: string }) => c.name.startsWith("signer")).ok).to.equal(false);
        expect(checks.find((c: { name: string }) => c.name === "registry").ok).to.equal(true);
      } finally {
        await poor.close();
      }
    });

    it("/metrics counts confirmations, batches, gas and pre-check rejections", async function () {
      const text = (await app.inject({ method: "GET", url: "/metrics" })).body;
      const value = (name: string) => Number(new RegExp(`^${name} (\\d+(\\.\\d+)?)$`, "m").exec(text)?.[1] ?? NaN);
      expect(value("chainmail_relayer_messages_confirmed_total")).to.be.greaterThan(5);
      expect(value("chainmail_relayer_gas_used_total")).to.be.greaterThan(0);
      expect(value("chainmail_relayer_batch_size_count")).to.be.greaterThan(0);
      expect(text).to.match(/chainmail_relayer_precheck_rejections_total\{code="NotMember"\} [1-9]/);
      expect(text).to.match(/chainmail_relayer_submit_latency_seconds_count [1-9]/);
      expect(text).to.contain("chainmail_relayer_queue_depth 0");
    });

    it("/metrics times every stage of the submit path: one observation per message for the pre-check, one per mined batch for the others", async function () {
      const text = (await app.inject({ method: "GET", url: "/metrics" })).body;
      const count = (stage: string) => Number(new RegExp(`^chainmail_relayer_stage_seconds_count\\{stage="${stage}"\\} (\\d+)$`, "m").exec(text)?.[1] ?? NaN);
      const batches = Number(/^chainmail_relayer_batch_size_count (\d+)$/m.exec(text)?.[1]);
      const confirmed = Number(/^chainmail_relayer_messages_confirmed_total (\d+)$/m.exec(text)?.[1]);
      expect(batches).to.be.greaterThan(0);
      expect(count("precheck")).to.be.at.least(confirmed);
      for (const stage of ["sign", "send", "receipt_wait", "settle"]) expect(count(stage), stage).to.equal(batches);
      // Cut batches: every mined one, plus any that failed and were cut again.
      for (const stage of ["batch_fill", "queue_wait"]) expect(count(stage), stage).to.be.at.least(batches);
      const sum = (stage: string) => Number(new RegExp(`^chainmail_relayer_stage_seconds_sum\\{stage="${stage}"\\} ([\\d.e-]+)$`, "m").exec(text)?.[1]);
      expect(sum("receipt_wait")).to.be.greaterThan(0);
    });

    it("serves the OpenAPI document and its UI page", async function () {
      const doc = JSON.parse((await app.inject({ method: "GET", url: "/openapi.json" })).body);
      expect(doc.openapi).to.match(/^3\./);
      expect(Object.keys(doc.paths)).to.include.members(["/v1/messages", "/v1/messages/{digest}", "/v1/channels", "/v1/channels/{id}/messages", "/v1/info", "/healthz", "/readyz", "/metrics"]);
      expect(doc.paths["/v1/messages"].post.description).to.match(/202 Accepted means the message is on the relayer's disk/);
      const ui = await app.inject({ method: "GET", url: "/docs/" });
      expect(ui.statusCode).to.equal(200);
      expect(ui.headers["content-type"]).to.match(/html/);
    });
  });
});

describe("relayer: a message rejected on-chain", function () {
  let f: Fixture;
  let app: RelayerApp;
  before(async function () {
    f = await startFixture();
    // A long batch window lets the message age past maxAge between check and mining.
    app = await buildApp(f.config({ batchMaxWaitMs: 1500 }), { defaultMetrics: false });
  });
  after(async function () {
    await app?.close();
    await f?.node.stop();
  });

  it("gets its reason code and sentence (status and a re-post say the same)", async function () {
    const m = await f.sign(f.authors[0], "about to expire");
    const accepted = await app.inject({ method: "POST", url: "/v1/messages", payload: toJson(m) });
    expect(accepted.statusCode).to.equal(202);
    const digest = JSON.parse(accepted.body).digest;
    await f.node.provider.send("evm_increaseTime", [4000]);
    await f.node.provider.send("evm_mine", []);
    const status = await waitFor("the on-chain outcome", async () => {
      const s = JSON.parse((await app.inject({ method: "GET", url: `/v1/messages/${digest}` })).body);
      return s.status === "rejected" ? s : undefined;
    });
    expect(status).to.include({ code: "MessageExpired", reasonCode: 8, message: reasonSentence("MessageExpired") });
    expect(status.transactionHash).to.match(/^0x[0-9a-f]{64}$/);
    const again = await app.inject({ method: "POST", url: "/v1/messages?wait=true", payload: toJson(m) });
    expect(again.statusCode).to.equal(422);
    expect(JSON.parse(again.body)).to.include({ status: "rejected", code: "MessageExpired" });
    const [, , seq] = await f.deployed.registry.channelInfo(f.channel);
    expect(seq).to.equal(0n);
  });
});
