/**
 * The gRPC door against a real stack: a listening relayer (HTTP/2, its own port) over a
 * real hardhat node, called by a client generated from the proto (Connect-ES over the
 * gRPC protocol). Post, wait, status, lists, a 1,000-message stream, Subscribe across a
 * relayer restart, every error class with its status and reason, deadlines,
 * cancellation, health, reflection, metrics, and a lying chain node caught by Subscribe.
 */
import { getBytes, keccak256, toUtf8Bytes } from "ethers";
import { expect } from "chai";
import http2 from "node:http2";
import { gzipSync } from "node:zlib";
import { Code, ConnectError, createClient, type Client } from "@connectrpc/connect";
import { compressionGzip, createGrpcTransport } from "@connectrpc/connect-node";
import { create, fromBinary, toBinary, type MessageInitShape } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import { buildApp, type RelayerApp, type RelayerConfig } from "@chainmail/relayer";
import { ErrorInfoSchema, health, MessageOutcome_Status as Status, reflection, RelayerService, RetryInfoSchema, PostMessageRequestSchema, PostMessagesRequestSchema, SubscribeRequestSchema, type SubscribeResponse } from "@chainmail/protocol/grpc";
import { digestOf, MESSAGE_POSTED_TOPIC, messagePostedOffsets, packBatch, type SignedMessage } from "@chainmail/protocol";
import { waitFor } from "@chainmail/testkit";
import { expectContiguousChain, postedLogs } from "./chain-check.js";
import { startFixture, toJson, type Fixture } from "./fixture.js";
import { metric, refusal, rpcProxy } from "./helpers.js";
import { STREAM_WINDOW } from "../src/grpc/relayer-service.js";

type Relayer = Client<typeof RelayerService>;

async function startRelayer(f: Fixture, overrides: Partial<RelayerConfig> = {}): Promise<{ app: RelayerApp; client: Relayer; url: string; httpUrl: string }> {
  const app = await buildApp(f.config({ rateLimitAuthorPerSecond: 0, rateLimitClientPerSecond: 0, ...overrides }), { defaultMetrics: false });
  const httpUrl = await app.listen({ host: "127.0.0.1", port: 0 });
  const url = await app.grpc.listen({ host: "127.0.0.1", port: 0 });
  const client = createClient(RelayerService, createGrpcTransport({ baseUrl: url }));
  return { app, client, url, httpUrl };
}

/** `count` messages signed by the fixture's four authors in turn, 256 at a time. */
async function signMany(f: Fixture, count: number, text: string): Promise<SignedMessage[]> {
  const signed: SignedMessage[] = [];
  for (let i = 0; i < count; i += 256) {
    signed.push(...(await Promise.all(Array.from({ length: Math.min(256, count - i) }, (_, k) => f.sign(f.authors[(i + k) % 4], `${text} ${i + k}`)))));
  }
  return signed;
}

describe("relayer gRPC door (real hardhat node, generated client)", function () {
  let f: Fixture;
  let r: Awaited<ReturnType<typeof startRelayer>>;

  before(async function () {
    f = await startFixture();
    r = await startRelayer(f);
  });
  after(async function () {
    await r?.app.close();
    await f?.node.stop();
  });

  it("posts with wait: confirmed with seq, head and transaction, matching the chain; status and lists agree", async function () {
    const signed = await f.sign(f.authors[0], "hello over gRPC");
    const { outcome } = await r.client.postMessage({ message: toJson(signed), wait: true });
    expect(outcome?.status).to.equal(Status.CONFIRMED);
    const onChain = (await postedLogs(f.node.provider, f.location, f.channel)).find((p) => p.digest === outcome!.digest)!;
    expect(onChain, "the confirmed message is on-chain").to.not.equal(undefined);
    expect(outcome!.seq).to.equal(onChain.seq);
    expect(outcome!.head).to.equal(onChain.head);
    expect(outcome!.transactionHash).to.equal(onChain.transactionHash);

    const status = await r.client.getMessageStatus({ digest: outcome!.digest });
    expect(status.outcome?.status).to.equal(Status.CONFIRMED);
    expect(status.outcome?.seq).to.equal(onChain.seq);

    const { channels } = await r.client.listChannels({});
    const general = channels.find((c) => c.id === f.channel)!;
    expect(general.name).to.equal("general");
    expect(general.seq).to.equal(onChain.seq);

    const page = await r.client.listMessages({ channel: "general", fromSeq: onChain.seq, limit: 10 });
    expect(page.messages.map((m) => m.digest)).to.deep.equal([outcome!.digest]);
    expect(page.messages[0].text).to.equal("hello over gRPC");
    expect(page.messages[0].signature).to.equal(signed.signature);
    expect(page.nextFromSeq).to.equal(0n);
  });

  it("posts without wait: pending, then confirmed by status; posting it again returns the first outcome", async function () {
    const signed = await f.sign(f.authors[1], "accepted first");
    const { outcome } = await r.client.postMessage({ message: toJson(signed) });
    expect(outcome?.status).to.equal(Status.PENDING);
    expect(outcome?.message).to.match(/persisted by the relayer/);
    const confirmed = await waitFor("confirmed status", async () => {
      const s = await r.client.getMessageStatus({ digest: outcome!.digest });
      return s.outcome?.status === Status.CONFIRMED ? s.outcome : undefined;
    });
    const again = await r.client.postMessage({ message: toJson(signed), wait: true });
    expect(again.outcome?.seq).to.equal(confirmed.seq);
    const count = (await postedLogs(f.node.provider, f.location, f.channel)).filter((p) => p.digest === outcome!.digest).length;
    expect(count, "one copy on-chain").to.equal(1);
  });

  it("stream-posts 1,000 messages on one stream: one outcome each, in request order, all on-chain once", async function () {
    this.timeout(300_000);
    const signed: SignedMessage[] = [];
    for (let i = 0; i < 1000; i++) signed.push(await f.sign(f.authors[i % 4], `stream ${i}`));
    async function* requests(): AsyncGenerator<MessageInitShape<typeof PostMessagesRequestSchema>> {
      for (const m of signed) yield { message: toJson(m), wait: true };
    }
    const answers = [];
    for await (const answer of r.client.postMessages(requests())) answers.push(answer);
    expect(answers).to.have.length(1000);
    expect(answers.map((a) => Number(a.index))).to.deep.equal(signed.map((_, i) => i));
    const digests = answers.map((a) => {
      expect(a.result.case, a.result.case === "refusal" ? a.result.value.message : "").to.equal("outcome");
      const outcome = a.result.value as { status: Status; digest: string };
      expect(outcome.status).to.equal(Status.CONFIRMED);
      return outcome.digest;
    });
    expect(digests).to.deep.equal(signed.map((m) => r.app.services.checker.digest(m).toLowerCase()));
    const [, , , storedHead] = await f.deployed.registry.channelInfo(f.channel);
    expectContiguousChain(f.location, await postedLogs(f.node.provider, f.location, f.channel), storedHead, digests);
  });

  it("a refused message inside a stream gets its refusal in its place and the stream goes on", async function () {
    const good = await f.sign(f.authors[0], "good");
    const outsider = await f.sign(f.outsider, "not a member");
    const good2 = await f.sign(f.authors[1], "good again");
    const answers = [];
    async function* requests(): AsyncGenerator<MessageInitShape<typeof PostMessagesRequestSchema>> {
      yield { message: toJson(good), wait: true };
      yield { message: toJson(outsider), wait: true };
      yield { message: { ...toJson(good2), body: "0xzz" }, wait: true };
      yield { message: toJson(good2), wait: true };
    }
    for await (const answer of r.client.postMessages(requests())) answers.push(answer);
    expect(answers.map((a) => a.result.case)).to.deep.equal(["outcome", "refusal", "refusal", "outcome"]);
    const notMember = answers[1].result.value as { grpcCode: number; reason: string };
    expect(notMember.grpcCode).to.equal(Code.PermissionDenied);
    expect(notMember.reason).to.equal("NotMember");
    const bad = answers[2].result.value as { grpcCode: number; reason: string; message: string };
    expect(bad.grpcCode).to.equal(Code.InvalidArgument);
    expect(bad.reason).to.equal("InvalidRequest");
    expect(bad.message).to.match(/^message\.body /);
  });

  describe("errors: gRPC status, ErrorInfo reason as HTTP's code, nothing sent", function () {
    it("malformed fields: INVALID_ARGUMENT, InvalidRequest naming the field; a missing message too", async function () {
      const signed = await f.sign(f.authors[0], "x");
      for (const [field, value] of [["author", "0x1234"], ["signature", "0x00"], ["nonce", "-1"], ["channel", "general"]] as const) {
        const e = await refusal(r.client.postMessage({ message: { ...toJson(signed), [field]: value } }));
        expect(e.code, field).to.equal(Code.InvalidArgument);
        expect(e.reason).to.equal("InvalidRequest");
        expect(e.message).to.contain(`message.${field}`);
      }
      const missing = await refusal(r.client.postMessage({}));
      expect([missing.code, missing.reason]).to.deep.equal([Code.InvalidArgument, "InvalidRequest"]);
      const digest = await refusal(r.client.getMessageStatus({ digest: "nope" }));
      expect([digest.code, digest.reason]).to.deep.equal([Code.InvalidArgument, "InvalidRequest"]);
    });

    it("a forged signature: INVALID_ARGUMENT BadSignature; a non-member: PERMISSION_DENIED NotMember", async function () {
      const signed = await f.sign(f.authors[0], "forged");
      const other = await f.sign(f.authors[1], "other");
      const forged = await refusal(r.client.postMessage({ message: { ...toJson(signed), signature: other.signature } }));
      expect([forged.code, forged.reason]).to.deep.equal([Code.InvalidArgument, "BadSignature"]);
      const outsider = await refusal(r.client.postMessage({ message: toJson(await f.sign(f.outsider, "let me in")) }));
      expect([outsider.code, outsider.reason]).to.deep.equal([Code.PermissionDenied, "NotMember"]);
    });

    it("a used nonce: ALREADY_EXISTS NonceUsed; an expired message: FAILED_PRECONDITION MessageExpired", async function () {
      const first = await f.sign(f.authors[2], "first");
      await r.client.postMessage({ message: toJson(first), wait: true });
      const reuse = await f.sign(f.authors[2], "second with the same nonce", { nonce: first.nonce });
      const used = await refusal(r.client.postMessage({ message: toJson(reuse) }));
      expect([used.code, used.reason]).to.deep.equal([Code.AlreadyExists, "NonceUsed"]);
      const old = await f.sign(f.authors[2], "old", { timestamp: 1_000n });
      const expired = await refusal(r.client.postMessage({ message: toJson(old) }));
      expect([expired.code, expired.reason]).to.deep.equal([Code.FailedPrecondition, "MessageExpired"]);
    });

    it("unknown message and channel: NOT_FOUND UnknownMessage / UnknownChannel", async function () {
      const unknown = await refusal(r.client.getMessageStatus({ digest: `0x${"ab".repeat(32)}` }));
      expect([unknown.code, unknown.reason]).to.deep.equal([Code.NotFound, "UnknownMessage"]);
      const channel = await refusal(r.client.listMessages({ channel: "nowhere" }));
      expect([channel.code, channel.reason]).to.deep.equal([Code.NotFound, "UnknownChannel"]);
    });

    it("rate limited: RESOURCE_EXHAUSTED RateLimited with RetryInfo", async function () {
      const limited = await startRelayer(f, { rateLimitAuthorPerSecond: 1, rateLimitAuthorBurst: 1 });
      try {
        await limited.client.postMessage({ message: toJson(await f.sign(f.authors[3], "one")) });
        const e = await refusal(limited.client.postMessage({ message: toJson(await f.sign(f.authors[3], "two")) }));
        expect([e.code, e.reason]).to.deep.equal([Code.ResourceExhausted, "RateLimited"]);
        expect(e.retryMs).to.be.greaterThanOrEqual(1000);
      } finally {
        await limited.app.close();
      }
    });
  });

  it("a request message over the body limit: RESOURCE_EXHAUSTED before it is read, on a call and on a stream; nothing of it is taken", async function () {
    // CHAINMAIL_HTTP_BODY_LIMIT (64 KiB here) bounds each gRPC request message too;
    // without it Connect reads up to 4 GiB into memory before any check.
    const limit = r.app.services.config.httpBodyLimitBytes;
    const big = (signed: SignedMessage) => ({ ...toJson(signed), body: `0x${"ab".repeat(limit / 2 + 1)}` });
    try {
      await r.client.postMessage({ message: big(await f.sign(f.authors[0], "too big")) });
      expect.fail("an over-limit request message was read");
    } catch (error) {
      const e = ConnectError.from(error);
      expect(e.code).to.equal(Code.ResourceExhausted);
      expect(e.rawMessage).to.contain(`larger than configured readMaxBytes ${limit}`);
    }
    const first = await f.sign(f.authors[1], "before the big one");
    const replies: bigint[] = [];
    let ended: ConnectError | undefined;
    try {
      const requests = async function* () {
        yield { message: toJson(first), wait: true };
        yield { message: big(await f.sign(f.authors[1], "too big on a stream")), wait: true };
      };
      for await (const reply of r.client.postMessages(requests())) replies.push(reply.index);
    } catch (error) {
      ended = ConnectError.from(error);
    }
    expect(ended?.code).to.equal(Code.ResourceExhausted);
    expect(replies).to.deep.equal([0n]);
    const after = await r.client.postMessage({ message: toJson(await f.sign(f.authors[2], "after the big ones")), wait: true });
    expect(after.outcome?.status).to.equal(Status.CONFIRMED);
    expect((await r.client.getMessageStatus({ digest: digestOf(f.location, first) })).outcome?.status).to.equal(Status.CONFIRMED);
  });

  it("the limit holds after decompression: a gzip request message of a few kilobytes that inflates past it is RESOURCE_EXHAUSTED", async function () {
    const limit = r.app.services.config.httpBodyLimitBytes;
    const gzipped = createClient(RelayerService, createGrpcTransport({ baseUrl: r.url, sendCompression: compressionGzip, compressMinBytes: 0 }));
    const bomb = { ...toJson(await f.sign(f.authors[0], "bomb")), body: `0x${"00".repeat(64 * limit)}` };
    expect(gzipSync(toBinary(PostMessageRequestSchema, create(PostMessageRequestSchema, { message: bomb }))).length).to.be.lessThan(limit / 4);
    try {
      await gzipped.postMessage({ message: bomb });
      expect.fail("an over-limit request message was inflated and read");
    } catch (error) {
      const e = ConnectError.from(error);
      expect(e.code).to.equal(Code.ResourceExhausted);
      expect(e.rawMessage).to.contain(`${limit}`);
    }
    // The same door still takes compressed messages under the limit.
    const small = await gzipped.postMessage({ message: toJson(await f.sign(f.authors[0], "small and gzipped")), wait: true });
    expect(small.outcome?.status).to.equal(Status.CONFIRMED);
  });

  it("a waiting post answers PENDING before its deadline instead of overrunning it", async function () {
    const slow = await startRelayer(f, { batchMaxWaitMs: 10_000, batchMaxSize: 1000 });
    try {
      const signed = await f.sign(f.authors[0], "slow batch");
      const started = Date.now();
      const { outcome } = await slow.client.postMessage({ message: toJson(signed), wait: true }, { timeoutMs: 1500 });
      expect(outcome?.status).to.equal(Status.PENDING);
      expect(Date.now() - started).to.be.lessThan(10_000, "answered before the batch was cut");
    } finally {
      await slow.app.close();
    }
  });

  it("health (grpc.health.v1), reflection (grpc.reflection.v1) and per-method metrics", async function () {
    const transport = createGrpcTransport({ baseUrl: r.url });
    const healthClient = createClient(health.Health, transport);
    expect((await healthClient.check({ service: "" })).status).to.equal(health.HealthCheckResponse_ServingStatus.SERVING);
    expect((await healthClient.check({ service: "chainmail.v1.RelayerService" })).status).to.equal(health.HealthCheckResponse_ServingStatus.SERVING);
    const unknown = await healthClient.check({ service: "nope" }).then(
      () => undefined,
      (error: unknown) => ConnectError.from(error).code,
    );
    expect(unknown).to.equal(Code.NotFound);

    const reflect = createClient(reflection.ServerReflection, transport);
    async function* ask(): AsyncGenerator<MessageInitShape<typeof reflection.ServerReflectionRequestSchema>> {
      yield { messageRequest: { case: "listServices", value: "" } };
      yield { messageRequest: { case: "fileContainingSymbol", value: "chainmail.v1.RelayerService" } };
      yield { messageRequest: { case: "fileContainingSymbol", value: "google.rpc.ErrorInfo" } };
    }
    const answers = [];
    for await (const a of reflect.serverReflectionInfo(ask())) answers.push(a);
    const list = answers[0].messageResponse;
    expect(list.case).to.equal("listServicesResponse");
    expect((list.value as reflection.ListServiceResponse).service.map((s) => s.name)).to.include.members(["chainmail.v1.RelayerService", "grpc.health.v1.Health"]);
    const files = (answers[1].messageResponse.value as reflection.FileDescriptorResponse).fileDescriptorProto.map((b) => fromBinary(FileDescriptorProtoSchema, b));
    expect(files[0].name).to.equal("chainmail/v1/relayer.proto");
    expect(files[0].service[0].method.map((m) => m.name)).to.include.members(["PostMessage", "PostMessages", "Subscribe", "GetMessageStatus", "ListChannels", "ListMessages"]);
    const details = (answers[2].messageResponse.value as reflection.FileDescriptorResponse).fileDescriptorProto.map((b) => fromBinary(FileDescriptorProtoSchema, b).name);
    expect(details, "clients can decode ErrorInfo and RetryInfo").to.deep.equal(["google/rpc/error_details.proto", "google/protobuf/duration.proto"]);

    await refusal(r.client.postMessage({}));
    const metrics = await (await fetch(`${r.httpUrl}/metrics`)).text();
    expect(metrics).to.match(/chainmail_relayer_grpc_requests_total\{method="chainmail\.v1\.RelayerService\/PostMessage",code="OK"\} [1-9]/);
    expect(metrics).to.match(/chainmail_relayer_grpc_requests_total\{method="chainmail\.v1\.RelayerService\/PostMessage",code="InvalidArgument"\} [1-9]/);
    expect(metrics).to.match(/chainmail_relayer_grpc_request_duration_seconds_count\{method="chainmail\.v1\.RelayerService\/PostMessages"\} [1-9]/);
  });

  it("Subscribe sends a channel's messages from a seq, checked, then live; a cancelled Subscribe stops", async function () {
    for (let i = 0; i < 5; i++) await r.client.postMessage({ message: toJson(await f.sign(f.authors[i % 4], `before subscribing ${i}`)), wait: true });
    const [, , seq] = await f.deployed.registry.channelInfo(f.channel);
    const from = seq - 4n;
    const controller = new AbortController();
    const got: SubscribeResponse[] = [];
    const live = await f.sign(f.authors[0], "live one");
    const reading = (async () => {
      try {
        for await (const m of r.client.subscribe({ channel: "general", fromSeq: from }, { signal: controller.signal })) {
          got.push(m);
          if (got.length === 5) await r.client.postMessage({ message: toJson(live) });
          if (got.length === 6) controller.abort();
        }
      } catch (error) {
        if (ConnectError.from(error).code !== Code.Canceled) throw error;
      }
    })();
    await reading;
    expect(got.map((m) => m.message!.seq)).to.deep.equal([from, from + 1n, from + 2n, from + 3n, from + 4n, from + 5n]);
    expect(got[5].message!.text).to.equal("live one");
    await waitFor("the cancelled Subscribe counted", async () => /grpc_requests_total\{method="chainmail\.v1\.RelayerService\/Subscribe",code="Canceled"\} [1-9]/.test(await (await fetch(`${r.httpUrl}/metrics`)).text()));
    const beyond = await refusal(r.client.subscribe({ channel: "general", fromSeq: seq + 100n })[Symbol.asyncIterator]().next());
    expect([beyond.code, beyond.reason]).to.deep.equal([Code.InvalidArgument, "InvalidRequest"]);
  });

  it("a Subscribe whose deadline passes ends with DEADLINE_EXCEEDED, never OK (the stream did not complete)", async function () {
    // A bare HTTP/2 client that sends grpc-timeout but keeps no timer of its own, so the
    // status it reads is the server's (a generated client would report its own deadline).
    const session = http2.connect(r.url);
    try {
      const body = toBinary(SubscribeRequestSchema, create(SubscribeRequestSchema, { channel: "general", fromSeq: 1n }));
      const frame = Buffer.alloc(5 + body.length);
      frame.writeUInt32BE(body.length, 1);
      frame.set(body, 5);
      const stream = session.request({ ":method": "POST", ":path": "/chainmail.v1.RelayerService/Subscribe", "content-type": "application/grpc+proto", te: "trailers", "grpc-timeout": "300m" });
      const status = new Promise<string | undefined>((resolve, reject) => {
        stream.on("trailers", (t) => resolve(String(t["grpc-status"])));
        stream.on("error", reject);
        stream.on("close", () => resolve(undefined));
      });
      let received = 0;
      stream.on("data", (chunk: Buffer) => (received += chunk.length));
      stream.end(frame);
      expect(await status).to.equal(String(Code.DeadlineExceeded));
      expect(received, "the channel's messages came before the deadline").to.be.greaterThan(0);
    } finally {
      session.close();
    }
  });
});

describe("PostMessages producers that stop reading or stay open, and the relayer's shutdown (real hardhat node)", function () {
  let f: Fixture;

  before(async function () {
    f = await startFixture();
  });
  after(async function () {
    await f?.node.stop();
  });

  it("the relayer stops reading the stream at its window and takes on no more until the client reads; then every message is answered in order and lands", async function () {
    const r = await startRelayer(f);
    try {
      const count = 3 * STREAM_WINDOW;
      const signed = await signMany(f, count, "unread");
      const seq0 = (await f.deployed.registry.channelInfo(f.channel))[2];
      async function* requests(): AsyncGenerator<MessageInitShape<typeof PostMessagesRequestSchema>> {
        for (const m of signed) yield { message: toJson(m), wait: false };
      }
      const replies = r.client.postMessages(requests())[Symbol.asyncIterator]();
      const first = await replies.next(); // the stream runs; the client reads nothing more for now
      const accepted = () => metric(r.app, "chainmail_relayer_messages_accepted_total");
      await waitFor("the relayer at its window", async () => (await accepted()) >= STREAM_WINDOW);
      // Ten messages from another client are confirmed one after the other meanwhile (a
      // second or so): a relayer that kept reading would have taken the whole stream by
      // then (it reads thousands a second). Its own connection: on the producer's, the
      // unread replies hold HTTP/2's connection window.
      const other = createClient(RelayerService, createGrpcTransport({ baseUrl: r.url }));
      for (let i = 0; i < 10; i++) {
        const outcome = (await other.postMessage({ message: toJson(await f.sign(f.authors[i % 4], `meanwhile ${i}`)), wait: true })).outcome!;
        expect(outcome.status).to.equal(Status.CONFIRMED);
      }
      // The window, plus the replies the transport holds (HTTP/2 windows and stream
      // buffers: about 500 pending replies, measured), and not more.
      const taken = (await accepted()) - 10;
      expect(taken, "messages the relayer took from a stream whose client does not read").to.be.within(STREAM_WINDOW, 2 * STREAM_WINDOW);

      const answers = [first.value!];
      for (let next = await replies.next(); !next.done; next = await replies.next()) answers.push(next.value);
      expect(answers.map((a) => Number(a.index))).to.deep.equal(signed.map((_, i) => i));
      expect(answers.every((a) => a.result.case === "outcome" && a.result.value.status !== Status.REJECTED)).to.equal(true);
      await waitFor("every message on the chain", async () => (await f.deployed.registry.channelInfo(f.channel))[2] === seq0 + BigInt(count) + 10n, { timeoutMs: 120_000 });
      expect(await accepted()).to.equal(count + 10);
    } finally {
      await r.app.close();
    }
  });

  /** Resolves once `closing` has: a bounded wait with its own sentence. */
  async function closedWithin(closing: Promise<unknown>, timeoutMs: number): Promise<void> {
    let closed = false;
    void closing.then(() => (closed = true));
    await waitFor("the relayer's close() to resolve", async () => closed, { timeoutMs });
  }

  it("an open PostMessages stream takes no more messages, answers those it took, then ends UNAVAILABLE naming the index to send again; close() does not wait for its client", async function () {
    const r = await startRelayer(f, { shutdownTimeoutMs: 5_000 });
    let release!: () => void;
    const idle = new Promise<void>((resolve) => (release = resolve));
    const first = await f.sign(f.authors[0], "before the stop");
    const second = await f.sign(f.authors[1], "after the stop");
    async function* requests(): AsyncGenerator<MessageInitShape<typeof PostMessagesRequestSchema>> {
      yield { message: toJson(first), wait: true };
      await idle; // a producer keeping its stream open for more
      yield { message: toJson(second), wait: true };
    }
    const replies = r.client.postMessages(requests())[Symbol.asyncIterator]();
    try {
      const reply = (await replies.next()).value!;
      expect(reply.result.case === "outcome" && reply.result.value.status).to.equal(Status.CONFIRMED);
      const seq = (await f.deployed.registry.channelInfo(f.channel))[2];
      const closing = r.app.close();
      const ended = await refusal(replies.next());
      expect([ended.code, ended.reason]).to.deep.equal([Code.Unavailable, "ShuttingDown"]);
      expect(ended.message).to.equal("The relayer is shutting down: it took this stream's messages before index 1 and sent their outcomes; send those from index 1 on again, here or to another relayer.");
      expect(ended.retryMs).to.equal(1000);
      await closedWithin(closing, 30_000);
      release();
      expect((await f.deployed.registry.channelInfo(f.channel))[2], "nothing taken after the stop").to.equal(seq);
    } finally {
      release();
      await r.app.close();
    }
  });

  it("health Watch calls get NOT_SERVING at the stop, then end UNAVAILABLE ShuttingDown (an unknown service's too): no watcher waits for the cut", async function () {
    const r = await startRelayer(f, { shutdownTimeoutMs: 5_000 });
    const { SERVING, NOT_SERVING, SERVICE_UNKNOWN } = health.HealthCheckResponse_ServingStatus;
    const checker = createClient(health.Health, createGrpcTransport({ baseUrl: r.url }));
    const watch = (service: string) => checker.watch({ service })[Symbol.asyncIterator]();
    const watches = { whole: watch(""), relayer: watch(RelayerService.typeName), unknown: watch("nope.v1.Nothing") };
    try {
      expect((await watches.whole.next()).value?.status).to.equal(SERVING);
      expect((await watches.relayer.next()).value?.status).to.equal(SERVING);
      expect((await watches.unknown.next()).value?.status).to.equal(SERVICE_UNKNOWN);
      const closing = r.app.close();
      for (const w of [watches.whole, watches.relayer]) expect((await w.next()).value?.status).to.equal(NOT_SERVING);
      for (const w of Object.values(watches)) {
        const ended = await refusal(w.next());
        expect([ended.code, ended.reason, ended.message]).to.deep.equal([Code.Unavailable, "ShuttingDown", "The relayer is shutting down; watch another relayer."]);
      }
      await closedWithin(closing, 30_000);
    } finally {
      await r.app.close();
    }
  });

  it("a client that never reads its replies cannot hold the shutdown: its connection is cut after the grace, and every message the relayer took is on the chain", async function () {
    const r = await startRelayer(f, { shutdownTimeoutMs: 5_000 });
    const count = 2 * STREAM_WINDOW;
    const signed = await signMany(f, count, "never read");
    const seq0 = (await f.deployed.registry.channelInfo(f.channel))[2];
    async function* requests(): AsyncGenerator<MessageInitShape<typeof PostMessagesRequestSchema>> {
      for (const m of signed) yield { message: toJson(m), wait: false };
    }
    const replies = r.client.postMessages(requests())[Symbol.asyncIterator]();
    await replies.next();
    // From the counter itself: /metrics is gone once the relayer has closed.
    const accepted = async () => (await r.app.services.metrics.accepted.get()).values.reduce((sum, v) => sum + v.value, 0);
    await waitFor("the relayer at its window", async () => (await accepted()) >= STREAM_WINDOW);
    const closing = r.app.close();
    await closedWithin(closing, 60_000);
    const taken = await accepted();
    expect(taken, "the relayer took only what it could answer").to.be.below(count);
    expect((await f.deployed.registry.channelInfo(f.channel))[2] - seq0, "every message taken is on the chain").to.equal(BigInt(taken));
    let failure: unknown;
    try {
      for (let next = await replies.next(); !next.done; next = await replies.next());
    } catch (error) {
      failure = error;
    }
    expect(failure, "the stream did not complete").to.be.instanceOf(Error);
  });
});

describe("Subscribe across a relayer restart (real hardhat node)", function () {
  let f: Fixture;
  before(async function () {
    f = await startFixture();
  });
  after(async function () {
    await f?.node.stop();
  });

  it("resumes from the last seq the client saw: no gap, no repeat", async function () {
    this.timeout(180_000);
    let r = await startRelayer(f);
    const seen: bigint[] = [];
    const digests: string[] = [];
    const post = async (relayer: typeof r, n: number, tag: string) => {
      for (let i = 0; i < n; i++) {
        const { outcome } = await relayer.client.postMessage({ message: toJson(await f.sign(f.authors[i % 4], `${tag} ${i}`)), wait: true });
        digests.push(outcome!.digest);
      }
    };
    await post(r, 5, "before");
    const follow = async (client: Relayer, until: number) => {
      try {
        for await (const m of client.subscribe({ channel: f.channel, fromSeq: (seen.at(-1) ?? 0n) + 1n })) {
          seen.push(m.message!.seq);
          if (seen.length >= until) return "done";
        }
        return "ended";
      } catch (error) {
        const e = ConnectError.from(error);
        expect(e.code, e.message).to.equal(Code.Unavailable);
        expect(e.findDetails(ErrorInfoSchema)[0].reason).to.equal("ShuttingDown");
        expect(e.rawMessage).to.contain(`from_seq ${(seen.at(-1) ?? 0n) + 1n}`);
        return "unavailable";
      }
    };
    const first = follow(r.client, 1000);
    await waitFor("the first five", async () => seen.length >= 5);
    await r.app.close(); // the relayer stops while the client is subscribed
    expect(await first).to.equal("unavailable");

    r = await startRelayer(f); // a new relayer process, another port
    try {
      await post(r, 5, "after");
      expect(await follow(r.client, 10)).to.equal("done");
    } finally {
      await r.app.close();
    }
    expect(seen).to.deep.equal([1n, 2n, 3n, 4n, 5n, 6n, 7n, 8n, 9n, 10n]);
  });
});

describe("Subscribe against a lying chain node", function () {
  let f: Fixture;
  let proxy: Awaited<ReturnType<typeof rpcProxy>>;
  // "head": flip a hex digit of each MessagePosted log's head; "signature": put in a forged one.
  let tamper: false | "head" | "signature" = false;
  // A well-formed, low-s signature by one of the channel's authors, over another message.
  let forged = "";

  before(async function () {
    f = await startFixture();
    forged = f.authors[0].signingKey.sign(keccak256(toUtf8Bytes("another message"))).serialized;
    proxy = await rpcProxy(f.node.url, (request, response) => {
      if (!tamper || !request.includes("eth_getLogs")) return response;
      const json = JSON.parse(response);
      for (const answer of Array.isArray(json) ? json : [json]) {
        for (const log of answer.result ?? []) {
          if (log.topics?.[0] !== MESSAGE_POSTED_TOPIC) continue;
          const offsets = messagePostedOffsets(getBytes(log.data));
          if (tamper === "head") {
            // A hex digit of the head the log claims (after replyTo and the nonce, whose lengths vary).
            const i = 2 + 2 * (offsets.head + 14) + 1;
            log.data = `${log.data.slice(0, i)}${log.data[i] === "0" ? "1" : "0"}${log.data.slice(i + 1)}`;
          } else {
            const at = 2 + 2 * offsets.signature;
            log.data = `${log.data.slice(0, at)}${forged.slice(2)}${log.data.slice(at + 130)}`;
          }
        }
      }
      return JSON.stringify(json);
    });
  });
  after(async function () {
    proxy?.close();
    await f?.node.stop();
  });

  it("an altered message ends the stream with DATA_LOSS and the verifier's finding", async function () {
    const r = await startRelayer(f, { rpcUrl: proxy.url });
    try {
      for (let i = 0; i < 3; i++) await r.client.postMessage({ message: toJson(await f.sign(f.authors[i], `true ${i}`)), wait: true });
      tamper = "head";
      const got: bigint[] = [];
      const e = await refusal(
        (async () => {
          for await (const m of r.client.subscribe({ channel: "general", fromSeq: 1n })) got.push(m.message!.seq);
        })(),
      );
      expect(e.code).to.equal(Code.DataLoss);
      expect(["BODY_ALTERED", "HEAD_MISMATCH"]).to.include(e.reason);
      expect(got, "nothing unverified was sent").to.deep.equal([]);
    } finally {
      tamper = false;
      await r.app.close();
    }
  });

  it("a forged signature (the author's key, over another message) ends the stream with DATA_LOSS BAD_SIGNATURE before the message is sent", async function () {
    const r = await startRelayer(f, { rpcUrl: proxy.url });
    try {
      const { outcome } = await r.client.postMessage({ message: toJson(await f.sign(f.authors[0], "signed for real")), wait: true });
      tamper = "signature";
      const got: bigint[] = [];
      const e = await refusal(
        (async () => {
          for await (const m of r.client.subscribe({ channel: "general", fromSeq: outcome!.seq })) got.push(m.message!.seq);
        })(),
      );
      expect(e.code).to.equal(Code.DataLoss);
      expect(e.reason).to.equal("BAD_SIGNATURE");
      expect(got, "nothing unverified was sent").to.deep.equal([]);
    } finally {
      tamper = false;
      await r.app.close();
    }
  });
});

describe("Subscribe holds back what is not final (real hardhat node, a reorganisation)", function () {
  let f: Fixture;
  let proxy: Awaited<ReturnType<typeof rpcProxy>>;
  // How often the relayer asked the node for its head block: Subscribe's follower asks
  // at each look, and after the posts nothing else here asks for "latest".
  let headLooks = 0;
  // The log queries for one seq (topic 2): how Subscribe looks for the message it resumes after.
  const seqQueries = new Map<string, number>();

  before(async function () {
    f = await startFixture();
    proxy = await rpcProxy(f.node.url, (request, response) => {
      const calls = [JSON.parse(request)].flat() as Array<{ method: string; params: Array<{ topics?: string[] }> }>;
      headLooks += calls.filter((c) => c.method === "eth_getBlockByNumber" && (c.params[0] as unknown) === "latest").length;
      for (const c of calls) {
        const seqTopic = c.method === "eth_getLogs" ? c.params[0]?.topics?.[2] : undefined;
        if (seqTopic) seqQueries.set(seqTopic, (seqQueries.get(seqTopic) ?? 0) + 1);
      }
      return response;
    });
  });
  after(async function () {
    proxy?.close();
    await f?.node.stop();
  });

  it("a message whose block is replaced before it had its confirmations is never sent; the one that replaced it is", async function () {
    const r = await startRelayer(f, { rpcUrl: proxy.url, subscribeFinality: "latest", subscribeConfirmations: 2 });
    const controller = new AbortController();
    try {
      const final = (await r.client.postMessage({ message: toJson(await f.sign(f.authors[0], "final")), wait: true })).outcome!;
      for (let i = 0; i < 2; i++) await f.node.provider.send("evm_mine", []);
      const snapshot = await f.node.provider.send("evm_snapshot", []);
      const replaced = (await r.client.postMessage({ message: toJson(await f.sign(f.authors[1], "replaced")), wait: true })).outcome!;
      expect(replaced.status).to.equal(Status.CONFIRMED);
      await f.node.provider.send("evm_mine", []); // one confirmation of two

      const got: string[] = [];
      const following = (async () => {
        for await (const m of r.client.subscribe({ channel: "general", fromSeq: 1n }, { signal: controller.signal })) got.push(`${m.message!.seq}:${m.message!.digest}`);
      })().catch((error: unknown) => error);
      await waitFor("the final message", async () => got.length >= 1);
      const looks = headLooks;
      await waitFor("two more looks at the head", async () => headLooks >= looks + 2);
      expect(got, "the message one block short of its confirmations was held back").to.deep.equal([`1:${final.digest}`]);

      // The reorganisation: the replaced block goes, another message takes seq 2.
      expect(await f.node.provider.send("evm_revert", [snapshot])).to.equal(true);
      const replacement = await f.sign(f.authors[2], "replacement");
      await (await f.deployed.registry.connect(f.deployer).postBatch(packBatch([replacement]))).wait();
      for (let i = 0; i < 2; i++) await f.node.provider.send("evm_mine", []);
      await waitFor("the replacement", async () => got.length >= 2);
      expect(got).to.deep.equal([`1:${final.digest}`, `2:${digestOf(f.location, replacement)}`]);
      controller.abort();
      expect(ConnectError.from(await following).code).to.equal(Code.Canceled);
    } finally {
      controller.abort();
      await r.app.close();
    }
  });

  /**
   * A final message, a snapshot, then one only mined (the outcome a producer gets: CONFIRMED
   * with its seq), and a Subscribe from the seq after it, once the relayer has looked for
   * the mined one and twice at the head.
   */
  async function resumeAfterMined(r: Awaited<ReturnType<typeof startRelayer>>, controller: AbortController) {
    const before = (await r.client.postMessage({ message: toJson(await f.sign(f.authors[0], "final before")), wait: true })).outcome!;
    for (let i = 0; i < 2; i++) await f.node.provider.send("evm_mine", []);
    const snapshot = await f.node.provider.send("evm_snapshot", []);
    const mined = (await r.client.postMessage({ message: toJson(await f.sign(f.authors[1], "mined, then replaced")), wait: true })).outcome!;
    expect(mined.seq).to.equal(before.seq + 1n);
    const got: string[] = [];
    const following = (async () => {
      for await (const m of r.client.subscribe({ channel: "general", fromSeq: mined.seq + 1n }, { signal: controller.signal })) got.push(`${m.message!.seq}:${m.message!.digest}`);
    })().catch((error: unknown) => error);
    const anchorTopic = "0x" + mined.seq.toString(16).padStart(64, "0");
    await waitFor("Subscribe looking for the message it resumes after", async () => (seqQueries.get(anchorTopic) ?? 0) >= 1);
    const looks = headLooks;
    await waitFor("two more looks at the head", async () => headLooks >= looks + 2);
    return { snapshot, mined, got, following };
  }

  it("a resume after a message that is only mined waits for its block to be final; when that block is replaced, the stream goes on from the message that replaced it", async function () {
    const r = await startRelayer(f, { rpcUrl: proxy.url, subscribeFinality: "latest", subscribeConfirmations: 2 });
    const controller = new AbortController();
    try {
      const { snapshot, mined, got, following } = await resumeAfterMined(r, controller);
      // The reorganisation: the mined message's block goes; another message takes its seq, and one more follows.
      expect(await f.node.provider.send("evm_revert", [snapshot])).to.equal(true);
      const replacement = await f.sign(f.authors[2], "the replacement");
      const after = await f.sign(f.authors[3], "after the replacement");
      await (await f.deployed.registry.connect(f.deployer).postBatch(packBatch([replacement, after]))).wait();
      for (let i = 0; i < 2; i++) await f.node.provider.send("evm_mine", []);
      // Before the fix the anchor was the replaced message: the next one's head did not link, and the stream ended DATA_LOSS.
      const ended = await Promise.race([following, waitFor("the message after the replacement", async () => got.length >= 1).then(() => undefined)]);
      expect(ended, "the stream did not end").to.equal(undefined);
      expect(got).to.deep.equal([`${mined.seq + 1n}:${digestOf(f.location, after)}`]);
      controller.abort();
      expect(ConnectError.from(await following).code).to.equal(Code.Canceled);
    } finally {
      controller.abort();
      await r.app.close();
    }
  });

  it("a resume after a message whose block is replaced by none is refused as beyond the channel, not as a broken chain", async function () {
    const r = await startRelayer(f, { rpcUrl: proxy.url, subscribeFinality: "latest", subscribeConfirmations: 2 });
    const controller = new AbortController();
    try {
      const { snapshot, mined, got, following } = await resumeAfterMined(r, controller);
      expect(await f.node.provider.send("evm_revert", [snapshot])).to.equal(true);
      for (let i = 0; i < 2; i++) await f.node.provider.send("evm_mine", []);
      const e = await refusal(following.then((ended) => Promise.reject(ended)));
      expect(e.code).to.equal(Code.InvalidArgument);
      expect(e.reason).to.equal("InvalidRequest");
      expect(e.message).to.include(`from_seq ${mined.seq + 1n} is beyond the channel's next message (${mined.seq})`);
      expect(got, "nothing is final after the anchor").to.deep.equal([]);
    } finally {
      controller.abort();
      await r.app.close();
    }
  });
});

describe("Subscribe streams are bounded, per client and on the relayer (real hardhat node)", function () {
  let f: Fixture;
  const OPEN = 'chainmail_relayer_grpc_open_streams{method="chainmail.v1.RelayerService/Subscribe"}';

  before(async function () {
    f = await startFixture();
  });
  after(async function () {
    await f?.node.stop();
  });

  /** A Subscribe stream from seq 1, open once it has the channel's first message; `ended` settles with how it ended. */
  async function openStream(r: Awaited<ReturnType<typeof startRelayer>>, controller: AbortController): Promise<{ ended: Promise<unknown> }> {
    let got = 0;
    const ended = (async () => {
      for await (const _ of r.client.subscribe({ channel: "general", fromSeq: 1n }, { signal: controller.signal })) got++;
    })().catch((error: unknown) => error);
    await Promise.race([ended.then((e) => expect.fail(`the stream ended: ${String(e)}`)), waitFor("the stream's first message", async () => got >= 1)]);
    return { ended };
  }

  /** A stream beyond a bound: RESOURCE_EXHAUSTED TooManyStreams with a 1 s RetryInfo, before any message; its sentence. */
  async function refusedStream(r: Awaited<ReturnType<typeof startRelayer>>): Promise<string> {
    const e = await refusal(
      (async () => {
        for await (const _ of r.client.subscribe({ channel: "general", fromSeq: 1n })) expect.fail("a stream beyond the bound was served");
      })(),
    );
    expect(e.code).to.equal(Code.ResourceExhausted);
    expect(e.reason).to.equal("TooManyStreams");
    expect(e.retryMs).to.equal(1000);
    return e.message;
  }

  it("one stream over a client's bound is RESOURCE_EXHAUSTED TooManyStreams with RetryInfo; other calls still answer; a closed stream frees its slot", async function () {
    const r = await startRelayer(f, { maxSubscribeStreamsPerClient: 2, maxSubscribeStreams: 0 });
    const controllers = [new AbortController(), new AbortController(), new AbortController()];
    try {
      await r.client.postMessage({ message: toJson(await f.sign(f.authors[0], "for the subscribers")), wait: true });
      const first = (await openStream(r, controllers[0])).ended;
      await openStream(r, controllers[1]);
      expect(await metric(r.app, OPEN)).to.equal(2);

      expect(await refusedStream(r)).to.equal("Subscribe streams open from 127.0.0.1: 2, the most one client may have; close one, retry later, or use another relayer.");
      expect((await r.client.listChannels({})).channels.length).to.be.greaterThan(0);
      expect(await metric(r.app, OPEN), "the refused stream holds no slot").to.equal(2);

      controllers[0].abort();
      expect(ConnectError.from(await first).code).to.equal(Code.Canceled);
      await waitFor("the closed stream's slot free", async () => (await metric(r.app, OPEN)) === 1);
      await openStream(r, controllers[2]);
      expect(await metric(r.app, OPEN)).to.equal(2);
    } finally {
      controllers.forEach((c) => c.abort());
      await r.app.close();
    }
  });

  it("the relayer's bound holds with no bound per client: beyond it, TooManyStreams names the relayer", async function () {
    const r = await startRelayer(f, { maxSubscribeStreamsPerClient: 0, maxSubscribeStreams: 1 });
    const controller = new AbortController();
    try {
      await r.client.postMessage({ message: toJson(await f.sign(f.authors[1], "for the one subscriber")), wait: true });
      await openStream(r, controller);
      expect(await refusedStream(r)).to.equal("Subscribe streams open on this relayer: 1, the most it serves; close one, retry later, or use another relayer.");
    } finally {
      controller.abort();
      await r.app.close();
    }
  });
});

describe("Subscribe streams share one look at the final block (real hardhat node)", function () {
  let f: Fixture;
  let proxy: Awaited<ReturnType<typeof rpcProxy>>;
  // While holding, every look at the finalized block waits here until the test lets it through.
  let holding = false;
  const held: Array<() => void> = [];

  before(async function () {
    f = await startFixture();
    proxy = await rpcProxy(
      f.node.url,
      (_request, response) => response,
      (request) => {
        const call = JSON.parse(request) as { method: string; params: unknown[] };
        if (!holding || call.method !== "eth_getBlockByNumber" || call.params[0] !== "finalized") return undefined;
        return new Promise<void>((resolve) => held.push(resolve));
      },
    );
  });
  after(async function () {
    holding = false;
    held.splice(0).forEach((release) => release());
    proxy?.close();
    await f?.node.stop();
  });

  it("one look lets every caught-up stream see the new message (three streams, one look let through)", async function () {
    const r = await startRelayer(f, { rpcUrl: proxy.url });
    const controller = new AbortController();
    try {
      expect(r.app.services.finality.inUse).to.equal("finalized");
      const first = (await r.client.postMessage({ message: toJson(await f.sign(f.authors[0], "one")), wait: true })).outcome!;
      const got: bigint[][] = [[], [], []];
      const streams = got.map((seqs) =>
        (async () => {
          for await (const m of r.client.subscribe({ channel: "general", fromSeq: 1n }, { signal: controller.signal })) seqs.push(m.message!.seq);
        })().catch((error: unknown) => error),
      );
      await waitFor("every stream at message 1", async () => got.every((seqs) => seqs.length === 1));
      holding = true;
      await waitFor("a look held", async () => held.length >= 1);
      const second = (await r.client.postMessage({ message: toJson(await f.sign(f.authors[1], "two")), wait: true })).outcome!;
      expect([first.seq, second.seq]).to.deep.equal([1n, 2n]);
      held.shift()!(); // one look through; any other stays held
      await waitFor("every stream at message 2", async () => got.every((seqs) => seqs.length === 2), { timeoutMs: 10_000 });
      expect(got).to.deep.equal([[1n, 2n], [1n, 2n], [1n, 2n]]);
      controller.abort();
      holding = false;
      held.splice(0).forEach((release) => release());
      for (const ended of await Promise.all(streams)) expect(ConnectError.from(ended).code).to.equal(Code.Canceled);
    } finally {
      controller.abort();
      holding = false;
      held.splice(0).forEach((release) => release());
      await r.app.close();
    }
  });
});

describe("Subscribe streams share their log queries (real hardhat node)", function () {
  let f: Fixture;
  let proxy: Awaited<ReturnType<typeof rpcProxy>>;
  let logQueries = 0;

  before(async function () {
    f = await startFixture();
    proxy = await rpcProxy(f.node.url, (request, response) => {
      logQueries += ([JSON.parse(request)].flat() as Array<{ method: string }>).filter((c) => c.method === "eth_getLogs").length;
      return response;
    });
  });
  after(async function () {
    proxy?.close();
    await f?.node.stop();
  });

  it("twenty caught-up streams of a channel cost the node about one eth_getLogs per new block, not twenty; each gets every message once", async function () {
    const STREAMS = 20;
    const r = await startRelayer(f, { rpcUrl: proxy.url });
    const controller = new AbortController();
    try {
      await r.client.postMessage({ message: toJson(await f.sign(f.authors[0], "before the streams")), wait: true });
      const got: bigint[][] = Array.from({ length: STREAMS }, () => []);
      const streams = got.map((seqs) =>
        (async () => {
          for await (const m of r.client.subscribe({ channel: "general", fromSeq: 1n }, { signal: controller.signal })) seqs.push(m.message!.seq);
        })().catch((error: unknown) => error),
      );
      await waitFor("every stream at message 1", async () => got.every((seqs) => seqs.length === 1));
      const before = logQueries;
      const seqs = [1n];
      for (let i = 0; i < 3; i++) seqs.push((await r.client.postMessage({ message: toJson(await f.sign(f.authors[i + 1], `block ${i}`)), wait: true })).outcome!.seq);
      await waitFor("every stream at message 4", async () => got.every((s) => s.length === 4));
      // Three new blocks (automine). Without sharing: about 60 (one a stream a block).
      expect(logQueries - before).to.be.at.most(6);
      for (const s of got) expect(s).to.deep.equal(seqs);
      controller.abort();
      for (const ended of await Promise.all(streams)) expect(ConnectError.from(ended).code).to.equal(Code.Canceled);
    } finally {
      controller.abort();
      await r.app.close();
    }
  });
});

describe("Subscribe on a node without the finalized and safe tags", function () {
  let f: Fixture;
  let proxy: Awaited<ReturnType<typeof rpcProxy>>;

  before(async function () {
    f = await startFixture();
    // An older client: "finalized" and "safe" are refused as unknown block tags.
    proxy = await rpcProxy(f.node.url, (request, response) => {
      const call = JSON.parse(request) as { id: number; method: string; params: unknown[] };
      if (call.method !== "eth_getBlockByNumber" || !["finalized", "safe"].includes(call.params[0] as string)) return response;
      return JSON.stringify({ jsonrpc: "2.0", id: call.id, error: { code: -32602, message: `invalid block tag ${call.params[0]}` } });
    });
  });
  after(async function () {
    proxy?.close();
    await f?.node.stop();
  });

  it("auto falls back to latest - confirmations; finalized asked for explicitly stops the start with a sentence", async function () {
    const r = await startRelayer(f, { rpcUrl: proxy.url, subscribeConfirmations: 3 });
    try {
      expect(r.app.services.finality.inUse).to.equal("latest - 3");
    } finally {
      await r.app.close();
    }
    let refused: Error | undefined;
    await buildApp(f.config({ rpcUrl: proxy.url, subscribeFinality: "finalized" }), { defaultMetrics: false }).then(
      (app) => app.close(),
      (error: Error) => (refused = error),
    );
    expect(refused?.message).to.match(/^CHAINMAIL_SUBSCRIBE_FINALITY is finalized, but the node refuses that block tag \(.*invalid block tag finalized.*\); use auto or latest\.$/);
  });
});

describe("Subscribe and posts when the chain is gone", function () {
  it("UNAVAILABLE ChainUnavailable with RetryInfo", async function () {
    const f = await startFixture();
    const r = await startRelayer(f, { cacheTtlMs: 0 });
    try {
      const signed = await f.sign(f.authors[0], "no chain");
      await f.node.stop();
      const e = await refusal(r.client.postMessage({ message: toJson(signed) }));
      expect([e.code, e.reason]).to.deep.equal([Code.Unavailable, "ChainUnavailable"]);
      expect(e.retryMs).to.be.greaterThan(0);
    } finally {
      await r.app.close();
    }
  });
});
