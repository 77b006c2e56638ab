/**
 * The SDK against a relayer that answers outside the API (a bug, a proxy, a hostile
 * server): such answers become a RelayerError, never a result the caller trusts. The
 * answers of the real relayer are checked by the relayer's own end-to-end tests, which
 * go through this SDK.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { expect } from "chai";
import { Wallet } from "ethers";
import { bodyFromText, channelId, randomNonce, signMessage } from "@chainmail/protocol";
import { cachedInfo, forgetInfo, getInfo, listChannel, postMessage, RelayerError, submitSigned } from "../src/index.js";

type Answer = { status: number; body: unknown };

async function fakeRelayer(answer: (path: string) => Answer): Promise<{ url: string; server: Server }> {
  const server = createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      const { status, body } = answer(req.url ?? "/");
      res.writeHead(status, { "content-type": "application/json" });
      res.end(typeof body === "string" ? body : JSON.stringify(body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

const INFO = {
  chainId: "31337",
  registry: "0x5FbDB2315678afecb367f032d93F642f64180aa3",
  deploymentBlock: 1,
  limits: { maxBodyBytes: 4096, maxAge: 3600, maxFutureSkew: 300 },
  batch: { maxSize: 100, maxWaitMs: 20 },
  signers: ["0x70997970C51812dc3A010C7d01b50e0d17dc79C8"],
};

async function errorOf(promise: Promise<unknown>): Promise<RelayerError> {
  try {
    await promise;
  } catch (error) {
    expect(error).to.be.instanceOf(RelayerError);
    return error as RelayerError;
  }
  throw new Error("expected a RelayerError, got a result");
}

/** A message "hi" in "general", signed by a fresh key for the fake relayers' registry. */
async function signedHi() {
  const author = Wallet.createRandom();
  return signMessage(author, { chainId: 31337n, address: INFO.registry }, {
    channel: channelId("general"),
    author: author.address,
    body: bodyFromText("hi"),
    contentType: 1,
    timestamp: BigInt(Math.floor(Date.now() / 1000)),
    replyTo: 0n,
    nonce: randomNonce(),
  });
}

describe("client SDK: answers are checked against the API's schemas", function () {
  const servers: Server[] = [];
  after(() => servers.forEach((s) => s.close()));
  const start = async (answer: (path: string) => Answer) => {
    const relayer = await fakeRelayer(answer);
    servers.push(relayer.server);
    return relayer.url;
  };

  it("takes an /v1/info answer that matches the schema", async function () {
    const url = await start(() => ({ status: 200, body: INFO }));
    expect(await getInfo(url)).to.deep.equal(INFO);
  });

  it("refuses an /v1/info answer with a field of the wrong type or missing", async function () {
    for (const body of [{ ...INFO, registry: "not an address" }, { ...INFO, limits: undefined }, [INFO], "null"]) {
      const url = await start(() => ({ status: 200, body }));
      expect((await errorOf(getInfo(url))).code).to.equal("BadResponse");
    }
  });

  it("refuses a 'confirmed' answer that lacks what confirmation means (seq, head, transaction)", async function () {
    const signed = await signedHi();
    const url = await start(() => ({ status: 200, body: { status: "confirmed", digest: "0x" + "11".repeat(32) } }));
    const error = await errorOf(submitSigned(url, signed, { retry: { timeoutMs: 1_000 } }));
    expect(error.code).to.equal("BadResponse");
    expect(error.message).to.match(/does not match the API/);
  });

  it("carries the relayer's error code and sentence, and names a malformed error body", async function () {
    const url = await start(() => ({ status: 404, body: { code: "UnknownChannel", message: "No channel." } }));
    const error = await errorOf(listChannel(url, "general"));
    expect([error.httpStatus, error.code, error.message]).to.deep.equal([404, "UnknownChannel", "No channel."]);
    const garbled = await start(() => ({ status: 404, body: "<html>not found</html>" }));
    expect((await errorOf(listChannel(garbled, "general"))).code).to.equal("BadResponse");
  });

  it("fails over on 503 to the next relayer, not on a 4xx; /v1/info is read once per relayer", async function () {
    const signed = await signedHi();
    const asked: string[] = [];
    const confirmed = { status: "confirmed", digest: "0x" + "11".repeat(32), channel: channelId("general"), seq: "1", head: "0x" + "22".repeat(32), transactionHash: "0x" + "33".repeat(32), blockNumber: 5, logIndex: 0 };
    const down = await start((p) => (asked.push(`down ${p}`), { status: 503, body: { code: "ChainUnavailable", message: "Down." } }));
    const up = await start((p) => (asked.push(`up ${p}`), p === "/v1/info" ? { status: 200, body: INFO } : { status: 200, body: confirmed }));
    const result = await submitSigned([down, up], signed, { retry: { timeoutMs: 5_000 } });
    expect(result.status).to.equal("confirmed");
    expect(asked).to.deep.equal(["down /v1/messages?wait=true", "up /v1/messages?wait=true"]);

    asked.length = 0;
    const refusing = await start((p) => (asked.push(`refusing ${p}`), { status: 409, body: { code: "NonceUsed", message: "Used." } }));
    const refused = await submitSigned([refusing, up], signed, { retry: { timeoutMs: 5_000 } });
    expect(refused).to.include({ status: "rejected", code: "NonceUsed", httpStatus: 409 });
    expect(asked).to.deep.equal(["refusing /v1/messages?wait=true"]);

    asked.length = 0;
    forgetInfo();
    for (let i = 0; i < 5; i++) expect((await cachedInfo(up)).registry).to.equal(INFO.registry);
    expect(asked).to.deep.equal(["up /v1/info"]);
  });

  it("reads /v1/info again and signs anew, once, when the relayer says the signature is for another registry", async function () {
    forgetInfo();
    let registry = INFO.registry;
    const posted: string[] = [];
    const confirmed = { status: "confirmed", digest: "0x" + "11".repeat(32), channel: channelId("general"), seq: "1", head: "0x" + "22".repeat(32), transactionHash: "0x" + "33".repeat(32), blockNumber: 5, logIndex: 0 };
    const url = await start((p) => {
      if (p === "/v1/info") return { status: 200, body: { ...INFO, registry } };
      posted.push(p);
      // The first post was signed for the old registry; the second for the new one.
      return posted.length === 1 ? { status: 422, body: { code: "BadSignature", message: "It recovers to 0x...; check that you signed for chain 31337 and registry ..." } } : { status: 200, body: confirmed };
    });
    expect((await cachedInfo(url)).registry).to.equal(INFO.registry); // cached before the redeployment
    registry = "0x" + "ab".repeat(20);
    const result = await postMessage({ relayerUrl: [url], signer: Wallet.createRandom(), channel: "general", text: "hi" }, { retry: { timeoutMs: 5_000 } });
    expect(result.status).to.equal("confirmed");
    expect(posted).to.have.length(2);
    expect((await cachedInfo(url)).registry).to.equal(registry);
  });
});
