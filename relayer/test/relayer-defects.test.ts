/**
 * The relayer under fire (issue 13), against a real hardhat node: the defects a hostile
 * client and a faulty chain found, each held by a test that failed before its fix.
 * Same-nonce races, rate limits that forgeries cannot spend, a paused chain node
 * (SIGSTOP), a reset connection, load shedding on both doors, and every error in the
 * one shape {code, message}.
 */
import { expect } from "chai";
import http from "node:http";
import net from "node:net";
import { Wallet } from "ethers";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { Code } from "@connectrpc/connect";
import { MessageOutcome_Status, RelayerService } from "@chainmail/protocol/grpc";
import { MESSAGE_REJECTED_TOPIC, randomNonce } from "@chainmail/protocol";
import { buildApp, OutcomeIndex, type RelayerApp, type RelayerConfig } from "@chainmail/relayer";
import { waitFor } from "@chainmail/testkit";
import { startFixture, toJson, type Fixture } from "./fixture.js";
import { refusal } from "./helpers.js";

/** Stops (SIGSTOP) or resumes (SIGCONT) the node's whole process group: the node stops answering but keeps its sockets. */
function signalNode(f: Fixture, signal: "SIGSTOP" | "SIGCONT"): void {
  process.kill(-f.node.process.pid!, signal);
}

function expectError(response: { statusCode: number; body: string; headers: Record<string, unknown> }, status: number, code: string) {
  expect(response.statusCode, response.body).to.equal(status);
  const json = JSON.parse(response.body);
  expect(json.code, response.body).to.equal(code);
  expect(json.message).to.be.a("string").and.match(/\.$/);
  expect(Object.keys(json).sort()).to.include.members(["code", "message"]);
}

describe("relayer under fire: issue 13's defects (real hardhat node)", function () {
  let f: Fixture;
  let app: RelayerApp | undefined;
  let relayerAddress: string;

  before(async function () {
    f = await startFixture();
    relayerAddress = new Wallet(f.relayerKey).address;
  });
  afterEach(async function () {
    await app?.close();
    app = undefined;
  });
  after(async function () {
    try {
      signalNode(f, "SIGCONT");
    } catch {
      // already gone
    }
    await f?.node.stop();
  });

  const start = async (overrides: Partial<RelayerConfig> = {}) => {
    app = await buildApp(f.config({ rateLimitAuthorPerSecond: 0, rateLimitClientPerSecond: 0, ...overrides }), { defaultMetrics: false });
    return app;
  };
  const post = (a: RelayerApp, payload: unknown, url = "/v1/messages") => a.inject({ method: "POST", url, payload: payload as string });
  const txCount = () => f.node.provider.getTransactionCount(relayerAddress, "pending");

  describe("same-nonce race", function () {
    it("different messages with one author and nonce sent together: one goes on-chain, the others 409 NonceUsed without gas", async function () {
      const a = await start({ batchMaxWaitMs: 20 });
      const nonce = randomNonce();
      const messages = await Promise.all([0, 1, 2, 3, 4].map((i) => f.sign(f.authors[0], `race ${i}`, { nonce })));
      const before = await txCount();
      const fromBlock = await f.node.provider.getBlockNumber();
      const answers = await Promise.all(messages.map((m) => post(a, toJson(m), "/v1/messages?wait=true")));
      const statuses = answers.map((r) => r.statusCode).sort();
      expect(statuses, answers.map((r) => r.body).join("\n")).to.deep.equal([200, 409, 409, 409, 409]);
      for (const r of answers.filter((x) => x.statusCode === 409)) expectError(r, 409, "NonceUsed");
      expect(await txCount()).to.equal(before + 1, "one transaction");
      const rejected = await f.node.provider.getLogs({ address: f.location.address, topics: [MESSAGE_REJECTED_TOPIC], fromBlock: fromBlock + 1 });
      expect(rejected, "no on-chain rejection: no gas for the losers").to.have.length(0);
    });

    it("a forged message naming the author and nonce, arriving first, does not make the author's own message NonceUsed", async function () {
      const a = await start();
      const nonce = randomNonce();
      const forged = await f.sign(f.outsider, "forged first", { author: f.authors[0].address, nonce });
      const genuine = await f.sign(f.authors[0], "genuine second", { nonce });
      const [bad, good] = await Promise.all([post(a, toJson(forged)), post(a, toJson(genuine))]);
      expectError(bad, 422, "BadSignature");
      expect(good.statusCode, good.body).to.equal(202);
    });

    it("a batch holding two messages with one nonce: the one that landed is settled from the receipt, not sent again", async function () {
      const a = await start({ batchMaxWaitMs: 20 });
      const nonce = randomNonce();
      const first = await f.sign(f.authors[1], "lands", { nonce });
      const second = await f.sign(f.authors[1], "loses", { nonce });
      const { checker, submitter } = a.services;
      const before = await txCount();
      // Past the pre-check (as two relayers' messages would meet on-chain): straight into one batch.
      const one = submitter.enqueue(checker.digest(first), first);
      const two = submitter.enqueue(checker.digest(second), second);
      const [landed, lost] = await Promise.all([one.settled, two.settled]);
      expect(landed.status, landed.status === "failed" ? landed.message : "").to.equal("confirmed");
      expect(lost.status).to.equal("rejected");
      expect((lost as { code: string }).code).to.equal("NonceUsed");
      expect(await txCount()).to.equal(before + 1, "the landed message is not sent a second time");
    });
  });

  describe("rate limits", function () {
    it("messages that merely name a member (forged signatures) do not spend that member's allowance", async function () {
      const a = await start({ rateLimitAuthorPerSecond: 1, rateLimitAuthorBurst: 3 });
      const victim = f.authors[2];
      for (let i = 0; i < 10; i++) {
        const forged = await f.sign(f.outsider, `forged ${i}`, { author: victim.address });
        expectError(await post(a, toJson(forged)), 422, "BadSignature");
      }
      const own = await post(a, toJson(await f.sign(victim, "my own message")));
      expect(own.statusCode, own.body).to.equal(202);
      // The allowance still applies to the member's own messages.
      const answers = [];
      for (let i = 0; i < 4; i++) answers.push((await post(a, toJson(await f.sign(victim, `more ${i}`)))).statusCode);
      expect(answers).to.include(429);
    });

    it("GET routes (and gRPC reads) are rate-limited per client: 429 RateLimited with Retry-After", async function () {
      const a = await start({ rateLimitClientPerSecond: 1, rateLimitClientBurst: 3 });
      const answers = [];
      for (let i = 0; i < 5; i++) answers.push(await a.inject({ method: "GET", url: "/v1/channels" }));
      expect(answers.slice(0, 3).map((r) => r.statusCode)).to.deep.equal([200, 200, 200]);
      const limited = answers[4];
      expectError(limited, 429, "RateLimited");
      expect(Number(limited.headers["retry-after"])).to.be.greaterThan(0);
      // Health stays open for probes.
      expect((await a.inject({ method: "GET", url: "/healthz" })).statusCode).to.equal(200);
      // The gRPC door's reads take from the same client's bucket, now empty.
      const url = await a.grpc.listen({ host: "127.0.0.1", port: 0 });
      const client = createClient(RelayerService, createGrpcTransport({ baseUrl: url }));
      const grpcLimited = await refusal(client.listChannels({}));
      expect([grpcLimited.code, grpcLimited.reason]).to.deep.equal([Code.ResourceExhausted, "RateLimited"]);
      expect(grpcLimited.retryMs).to.be.greaterThan(0);
    });
  });

  describe("a stalled chain and reset connections", function () {
    it("with the node paused (SIGSTOP): POST answers 503 ChainUnavailable with Retry-After and /readyz 503, both before the node resumes", async function () {
      const a = await start({ precheckTimeoutMs: 1000 });
      const warm = await post(a, toJson(await f.sign(f.authors[3], "before the pause")), "/v1/messages?wait=true");
      expect(warm.statusCode, warm.body).to.equal(200);
      const m = await f.sign(f.authors[3], "during the pause");
      signalNode(f, "SIGSTOP");
      // The pause ends after PAUSE_MS in any case (as a real one would); the answers must come before it ends.
      // PAUSE_MS is far above the relayer's bounds (1 s pre-check deadline, 0.8 s /readyz), far below its RPC timeout.
      const PAUSE_MS = 8_000;
      let resumed = false;
      const resume = setTimeout(() => {
        resumed = true;
        signalNode(f, "SIGCONT");
      }, PAUSE_MS);
      try {
        const whilePaused = { post: false, ready: false };
        const [posted, ready] = await Promise.all([
          post(a, toJson(m)).finally(() => (whilePaused.post = !resumed)),
          a.inject({ method: "GET", url: "/readyz" }).finally(() => (whilePaused.ready = !resumed)),
        ]);
        expect(whilePaused.post, "POST answered while the node was paused").to.equal(true);
        expect(whilePaused.ready, "/readyz answered while the node was paused").to.equal(true);
        expectError(posted, 503, "ChainUnavailable");
        expect(Number(posted.headers["retry-after"])).to.be.greaterThan(0);
        expect(ready.statusCode, ready.body).to.equal(503);
        expect(JSON.parse(ready.body).ready).to.equal(false);
      } finally {
        clearTimeout(resume);
        signalNode(f, "SIGCONT");
      }
      // Resumed: the same signed message goes through (its nonce claim was given back).
      const again = await waitFor("the message accepted after the resume", async () => {
        const r = await post(a, toJson(m), "/v1/messages?wait=true");
        return r.statusCode === 200 ? r : undefined;
      });
      expect(JSON.parse(again.body).status).to.equal("confirmed");
    });

    it("a connection reset during the pre-check's chain reads is retried once, not answered 503", async function () {
      // A proxy in front of the node that resets the next request's connection when armed.
      let resets = 0;
      const target = new URL(f.node.url);
      const proxy = http.createServer((req, res) => {
        if (resets > 0) {
          resets--;
          req.socket.destroy();
          return;
        }
        const upstream = http.request({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers }, (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        });
        upstream.on("error", () => req.socket.destroy());
        req.pipe(upstream);
      });
      await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
      const port = (proxy.address() as net.AddressInfo).port;
      try {
        const a = await start({ rpcUrl: `http://127.0.0.1:${port}`, cacheTtlMs: 0 });
        for (let i = 0; i < 3; i++) {
          resets = 1;
          const r = await post(a, toJson(await f.sign(f.authors[3], `through a reset ${i}`)));
          expect(r.statusCode, r.body).to.equal(202);
          expect(resets).to.equal(0, "the reset happened");
        }
      } finally {
        await app?.close();
        app = undefined;
        proxy.closeAllConnections();
        await new Promise((resolve) => proxy.close(resolve));
      }
    });
  });

  describe("load shedding", function () {
    it("a full queue: 503 Overloaded with Retry-After at once, on the HTTP and the gRPC door", async function () {
      // Messages stay queued: batches wait a minute to fill.
      const a = await start({ maxPending: 2, batchMaxWaitMs: 60_000, batchMaxSize: 1000 });
      const url = await a.grpc.listen({ host: "127.0.0.1", port: 0 });
      const client = createClient(RelayerService, createGrpcTransport({ baseUrl: url }));
      for (let i = 0; i < 2; i++) expect((await post(a, toJson(await f.sign(f.authors[i], `queued ${i}`)))).statusCode).to.equal(202);
      const before = await txCount();
      const shed = await post(a, toJson(await f.sign(f.authors[2], "one too many")));
      expectError(shed, 503, "Overloaded");
      expect(shed.headers["retry-after"]).to.equal("1");
      const grpcShed = await refusal(client.postMessage({ message: toJson(await f.sign(f.authors[3], "one too many over gRPC")) }));
      expect(grpcShed.code).to.equal(Code.Unavailable);
      expect(grpcShed.reason).to.equal("Overloaded");
      expect(grpcShed.retryMs).to.equal(1000);
      expect(await txCount()).to.equal(before);
    });

    it("a PostMessages stream waits for room instead of being refused: every message confirmed through a queue of 3", async function () {
      const a = await start({ maxPending: 3, batchMaxWaitMs: 20 });
      const url = await a.grpc.listen({ host: "127.0.0.1", port: 0 });
      const client = createClient(RelayerService, createGrpcTransport({ baseUrl: url }));
      const messages: Array<ReturnType<typeof toJson>> = [];
      for (let i = 0; i < 24; i++) messages.push(toJson(await f.sign(f.authors[i % 4], `streamed through a small queue ${i}`)));
      async function* requests() {
        for (const message of messages) yield { message, wait: true };
      }
      const answers: string[] = [];
      for await (const reply of client.postMessages(requests())) {
        answers.push(reply.result.case === "outcome" ? MessageOutcome_Status[reply.result.value.status] : `refused ${reply.result.value?.reason}`);
      }
      expect(answers).to.deep.equal(messages.map(() => "CONFIRMED"));
    });

    it("an event loop far behind: 503 Overloaded for new requests, health and metrics still answer", async function () {
      const a = await start({ maxEventLoopDelayMs: 200 });
      // The loop is kept busy, 600 ms at a time, as by a sustained CPU-bound flood, until the relayer sees it behind.
      const deadline = Date.now() + 30_000;
      while (!a.services.load.behind && Date.now() < deadline) {
        const blockUntil = Date.now() + 600;
        while (Date.now() < blockUntil) {
          // busy
        }
        await new Promise((resolve) => setTimeout(resolve, 1));
      }
      expect(a.services.load.behind, "seen behind").to.equal(true);
      const [channels, health] = await Promise.all([a.inject({ method: "GET", url: "/v1/channels" }), a.inject({ method: "GET", url: "/healthz" })]);
      expectError(channels, 503, "Overloaded");
      expect(channels.headers["retry-after"]).to.equal("1");
      expect(health.statusCode).to.equal(200);
    });
  });

  describe("one error shape, also for what Fastify and Node refuse", function () {
    it("Content-Type text/plain: 415 UnsupportedMediaType", async function () {
      const a = await start();
      const m = await f.sign(f.authors[0], "as text");
      const r = await a.inject({ method: "POST", url: "/v1/messages", payload: JSON.stringify(toJson(m)), headers: { "content-type": "text/plain" } });
      expectError(r, 415, "UnsupportedMediaType");
    });

    it("a __proto__ key: 400 InvalidRequest naming the key, not 'not valid JSON'", async function () {
      const a = await start();
      const m = toJson(await f.sign(f.authors[0], "poisoned"));
      const body = JSON.stringify(m).replace(/^\{/, '{"__proto__":{"admin":true},');
      const r = await a.inject({ method: "POST", url: "/v1/messages", payload: body, headers: { "content-type": "application/json" } });
      expectError(r, 400, "InvalidRequest");
      expect(JSON.parse(r.body).message).to.match(/__proto__/);
    });

    it("Node's parser refusals (smuggling, oversized headers), 404 and 414 come as {code, message}", async function () {
      const a = await start();
      const address = await a.listen({ host: "127.0.0.1", port: 0 });
      const { port } = new URL(address);
      const raw = (text: string) =>
        new Promise<string>((resolve, reject) => {
          const socket = net.connect(Number(port), "127.0.0.1", () => socket.write(text));
          let data = "";
          socket.on("data", (d) => (data += d));
          socket.on("end", () => resolve(data));
          socket.on("close", () => resolve(data));
          socket.on("error", reject);
        });
      const parse = (answer: string) => {
        const [head, body] = answer.split("\r\n\r\n");
        return { status: Number(head.split(" ")[1]), json: JSON.parse(body) };
      };
      const smuggled = parse(
        await raw("POST /v1/messages HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n0\r\n\r\n"),
      );
      expect(smuggled.status).to.equal(400);
      expect(smuggled.json.code).to.equal("InvalidRequest");
      expect(smuggled.json.message).to.match(/Transfer-Encoding/);
      const huge = parse(await raw(`GET /v1/channels HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(20_000)}\r\nConnection: close\r\n\r\n`));
      expect(huge.status).to.equal(431);
      expect(huge.json.code).to.equal("HeadersTooLarge");
      const longParam = await a.inject({ method: "GET", url: `/v1/channels/0x${"a".repeat(400)}/messages` });
      expectError(longParam, 414, "UriTooLong");
      expectError(await a.inject({ method: "GET", url: "/nowhere" }), 404, "NotFound");
    });

    it("the OpenAPI document describes the error shape and the shedding and limit answers", async function () {
      const a = await start();
      const doc = JSON.parse((await a.inject({ method: "GET", url: "/openapi.json" })).body);
      const post = doc.paths["/v1/messages"].post.responses;
      for (const status of ["400", "413", "415", "429", "503"]) expect(post, `POST /v1/messages documents ${status}`).to.have.property(status);
      expect(JSON.stringify(post["503"])).to.match(/Overloaded/);
      expect(doc.paths["/v1/channels"].get.responses).to.have.property("429");
    });
  });

  describe("restart memory", function () {
    it("rebuilding the outcome index streams the history in pages and keeps at most its cap of entries", async function () {
      const a = await start({ batchMaxSize: 50, maxPending: 0 });
      const HISTORY = 600;
      for (let i = 0; i < HISTORY; i += 200) {
        const batch = await Promise.all(Array.from({ length: 200 }, (_, k) => f.sign(f.authors[k % 4], `history ${i + k}`)));
        const answers = await Promise.all(batch.map((m) => post(a, toJson(m))));
        expect(answers.every((r) => r.statusCode === 202), answers.find((r) => r.statusCode !== 202)?.body).to.equal(true);
      }
      await waitFor("the history on-chain", async () => a.services.submitter.pendingCount === 0, { timeoutMs: 120_000 });
      // What a restarted relayer does at start, with a small cap and page size so the bounds show.
      const CAP = 200;
      const PAGE_LOGS = 150;
      const index = new OutcomeIndex(a.services.chain, CAP, 10_000, PAGE_LOGS);
      await index.rebuild(100_000);
      expect(index.scanStats.logs, "read the whole history").to.be.at.least(HISTORY);
      expect(index.size, "outcomes kept").to.be.at.most(CAP);
      expect(index.nonceEntries, "author+nonce keys kept").to.be.at.most(CAP);
      expect(index.scanStats.pages, "streamed in pages").to.be.greaterThan(HISTORY / PAGE_LOGS);
      expect(index.scanStats.maxPageLogs, "never the whole history in one page").to.be.below(index.scanStats.logs);
    });
  });

  describe("bounded lookups", function () {
    it("many pre-checks at once, the cached block stale: the node is asked for its latest block once, not once each", async function () {
      const a = await start();
      const chain = a.services.chain;
      let asked = 0;
      const rpcCall = chain.rpc.call.bind(chain.rpc);
      chain.rpc.call = ((method: string, ...rest: unknown[]) => {
        if (method === "eth_getBlockByNumber") asked++;
        return (rpcCall as (...args: unknown[]) => unknown)(method, ...rest);
      }) as typeof chain.rpc.call;
      const providerSend = chain.provider.send.bind(chain.provider);
      chain.provider.send = ((method: string, params: unknown[]) => {
        if (method === "eth_getBlockByNumber") asked++;
        return providerSend(method, params);
      }) as typeof chain.provider.send;
      const realNow = Date.now;
      // A quiet second later: the block read at start-up is stale for all of them.
      Date.now = () => realNow() + 5_000;
      try {
        const nows = await Promise.all(Array.from({ length: 20 }, () => chain.chainNow()));
        expect(new Set(nows).size).to.be.at.most(2); // the same block time; the wall clock may tick once
      } finally {
        Date.now = realNow;
      }
      expect(asked).to.equal(1);
    });

    it("an unknown digest does not cost a full-history eth_getLogs on every lookup", async function () {
      const a = await start({ indexLookbackBlocks: 1 });
      const rpc = a.services.chain.rpc;
      const original = rpc.call.bind(rpc);
      const fullHistory: unknown[] = [];
      rpc.call = (async (method: string, params: unknown[] = [], options?: object) => {
        const range = params[0] as { fromBlock?: string } | undefined;
        if (method === "eth_getLogs" && range?.fromBlock !== undefined && Number(range.fromBlock) <= a.services.chain.deploymentBlock) fullHistory.push(range);
        return original(method, params, options);
      }) as typeof rpc.call;
      const digest = "0x" + "ab".repeat(32);
      for (let i = 0; i < 5; i++) expectError(await a.inject({ method: "GET", url: `/v1/messages/${digest}` }), 404, "UnknownMessage");
      expect(fullHistory.length, "history before the index's window searched at most once").to.be.at.most(1);
    });
  });
});
