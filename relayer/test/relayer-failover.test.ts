/**
 * Clients that fail over: two real relayer processes (each with its own signer key) over
 * one hardhat node. The SDK and the CLI are given both URLs; when the first is killed -9
 * they move to the second, on a 4xx they do not move, and GET /v1/info is read once per
 * relayer, not once per message.
 */
import { expect } from "chai";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { forgetInfo, postMessage } from "@chainmail/client";
import { ChainmailProcess, devPrivateKey, freePort, runChainmail } from "@chainmail/testkit";
import { startFixture, type Fixture } from "./fixture.js";

describe("SDK and CLI fail over between relayers (two real relayers, one killed)", function () {
  let f: Fixture;
  let dir: string;
  const relayers: ChainmailProcess[] = [];
  const urls: string[] = [];
  const realFetch = globalThis.fetch;
  const requests: string[] = [];

  before(async function () {
    f = await startFixture();
    dir = await mkdtemp(path.join(os.tmpdir(), "chainmail-failover-"));
    for (const [i, key] of [f.relayerKey, devPrivateKey(11)].entries()) {
      const port = await freePort();
      const relayer = ChainmailProcess.relayer({
        CHAINMAIL_RPC_URL: f.node.url,
        CHAINMAIL_REGISTRY: f.location.address.toString(),
        CHAINMAIL_SIGNER_KEYS: key,
        CHAINMAIL_PORT: String(port),
        CHAINMAIL_JOURNAL_DIR: path.join(dir, `journal-${i}`),
        CHAINMAIL_BATCH_WAIT_MS: "20",
        CHAINMAIL_RECEIPT_POLL_MS: "50",
        CHAINMAIL_LOG_LEVEL: "warn",
      });
      relayers.push(relayer);
      urls.push(`http://127.0.0.1:${port}`);
      await relayer.start();
      await relayer.ready();
    }
    // Count what the SDK asks (the relayers are real; only the requests are noted).
    globalThis.fetch = (input, init) => {
      requests.push(`${init?.method ?? "GET"} ${String(input)}`);
      return realFetch(input, init);
    };
    forgetInfo();
  });
  after(async function () {
    globalThis.fetch = realFetch;
    for (const relayer of relayers) await relayer.kill9();
    await f?.node.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const count = (pattern: RegExp) => requests.filter((r) => pattern.test(r)).length;

  it("reads /v1/info once per relayer, not per message; a 4xx is an answer, not a reason to move", async function () {
    for (let i = 0; i < 8; i++) {
      const result = await postMessage({ relayerUrl: urls, signer: f.authors[i % 4], channel: f.channel, text: `both up ${i}` }, { wait: true });
      expect(result.status, JSON.stringify(result)).to.equal("confirmed");
    }
    expect(count(/\/v1\/info$/), requests.join("\n")).to.equal(1);
    expect(count(new RegExp(`^POST ${urls[0]}/v1/messages`))).to.equal(8);

    const refused = await postMessage({ relayerUrl: urls, signer: f.outsider, channel: f.channel, text: "not a member" }, { wait: true });
    expect(refused).to.include({ status: "rejected", code: "NotMember", httpStatus: 403 });
    expect(count(new RegExp(`^POST ${urls[1]}/`)), "the second relayer was not asked").to.equal(0);
  });

  it("moves to the second relayer when the first is killed -9 (SDK and CLI, comma list and repeated flag)", async function () {
    await relayers[0].kill9();
    const retries: string[] = [];
    for (let i = 0; i < 6; i++) {
      const result = await postMessage(
        { relayerUrl: urls, signer: f.authors[i % 4], channel: f.channel, text: `first one down ${i}` },
        { wait: true, retry: { timeoutMs: 30_000 }, onRetry: (_n, why) => retries.push(why) },
      );
      expect(result.status, JSON.stringify(result)).to.equal("confirmed");
    }
    expect(retries.some((r) => r.includes(`cannot reach the relayer at ${urls[0]}`) && r.includes(`trying ${urls[1]}`)), retries.join("\n")).to.equal(true);
    expect(count(new RegExp(`^POST ${urls[1]}/v1/messages`))).to.equal(6);
    // The second relayer's info once (checked before moving there), still not per message.
    expect(count(/\/v1\/info$/), requests.join("\n")).to.equal(2);

    const keyFile = path.join(dir, "author.key");
    await writeFile(keyFile, f.authors[0].privateKey);
    const env = { CHAINMAIL_RELAYER: "" };
    const comma = await runChainmail(["post", "--relayer", urls.join(","), "--key-file", keyFile, "--channel", f.channel, "--text", "cli, comma list", "--wait", "--json"], env);
    expect(comma.code, comma.stderr).to.equal(0);
    expect(JSON.parse(comma.stdout).status).to.equal("confirmed");
    const repeated = await runChainmail(["post", "--relayer", urls[0], "--relayer", urls[1], "--key-file", keyFile, "--channel", f.channel, "--text", "cli, repeated flag", "--wait", "--json"], env);
    expect(repeated.code, repeated.stderr).to.equal(0);
    expect(JSON.parse(repeated.stdout).status).to.equal("confirmed");
    const fromEnv = await runChainmail(["post", "--key-file", keyFile, "--channel", f.channel, "--text", "cli, env list", "--wait", "--json"], { CHAINMAIL_RELAYER: urls.join(",") });
    expect(fromEnv.code, fromEnv.stderr).to.equal(0);
    const bad = await runChainmail(["post", "--relayer", `${urls[1]},ftp://x`, "--key-file", keyFile, "--channel", f.channel, "--text", "x"], env);
    expect(bad.code).to.equal(2);
    expect(bad.stderr).to.include('The relayer URL "ftp://x" must start with http:// or https://.');
  });
});
