/**
 * End to end: the SDK and the CLI talk HTTP to a listening relayer, which talks
 * JSON-RPC to a real hardhat node — with automine and with 1-second blocks. After a
 * relayer restart, confirmed messages are still found (from the chain's logs).
 */
import { expect } from "chai";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { Wallet } from "ethers";
import { getMessageStatus, listChannel, postMessage, type ConfirmedResult } from "@chainmail/client";
import { buildApp, type RelayerApp } from "@chainmail/relayer";
import { runChainmail as runCli } from "@chainmail/testkit";
import { expectContiguousChain, postedLogs } from "./chain-check.js";
import { startFixture, type Fixture } from "./fixture.js";


for (const mode of [{ name: "automine", blockTimeMs: undefined }, { name: "1-second blocks", blockTimeMs: 1000 }]) {
  describe(`relayer end to end over HTTP and JSON-RPC (${mode.name})`, function () {
    let f: Fixture;
    let app: RelayerApp | undefined;
    let url: string;

    before(async function () {
      f = await startFixture({ blockTimeMs: mode.blockTimeMs });
      app = await buildApp(f.config({ port: 0 }), { defaultMetrics: false });
      url = await app.listen({ host: "127.0.0.1", port: 0 });
    });
    after(async function () {
      await app?.close();
      await f?.node.stop();
    });

    it("the SDK posts concurrently from several authors; every message lands once, in one unbroken chain", async function () {
      const results = await Promise.all(
        Array.from({ length: 24 }, (_, i) =>
          postMessage({ relayerUrl: url, signer: new Wallet(f.authors[i % 4].privateKey), channel: "general", text: `message ${i}` }, { wait: true }),
        ),
      );
      for (const r of results) expect(r.status, JSON.stringify(r)).to.equal("confirmed");
      const confirmed = results as ConfirmedResult[];
      const [, , seq, head] = await f.deployed.registry.channelInfo(f.channel);
      expect(seq).to.equal(24n);
      const posted = await postedLogs(f.node.provider, f.location, f.channel);
      expectContiguousChain(f.location, posted, head, confirmed.map((r) => r.digest));
      // Batching happened: fewer transactions than messages.
      expect(new Set(confirmed.map((r) => r.transactionHash)).size).to.be.lessThan(24);
      const page = await listChannel(url, "general", { fromSeq: 1, limit: 100 });
      expect(page.messages.map((m) => m.seq)).to.deep.equal(posted.map((p) => p.seq.toString()));
    });

    it("a reply, and an on-chain outcome the SDK reports without waiting for more", async function () {
      const reply = await postMessage({ relayerUrl: url, signer: new Wallet(f.authors[0].privateKey), channel: "general", text: "re: 1", replyTo: 1 }, { wait: true });
      expect(reply.status).to.equal("confirmed");
      const refused = await postMessage({ relayerUrl: url, signer: new Wallet(f.outsider.privateKey), channel: "general", text: "not a member" }, { wait: true });
      expect(refused).to.include({ status: "rejected", code: "NotMember", httpStatus: 403 });
    });

    it("the CLI posts with --wait and lists the channel", async function () {
      const dir = mkdtempSync(path.join(tmpdir(), "chainmail-cli-"));
      const keyFile = path.join(dir, "author.key");
      writeFileSync(keyFile, f.authors[1].privateKey + "\n");
      const posted = await runCli(["post", "--relayer", url, "--key-file", keyFile, "--channel", "general", "--text", "hi from the CLI", "--wait", "--json"]);
      expect(posted.code, posted.stderr).to.equal(0);
      const outcome = JSON.parse(posted.stdout);
      expect(outcome.status).to.equal("confirmed");
      const viaEnv = await runCli(["post", "--relayer", url, "--channel", "general", "--text", "key from env", "--wait"], { CHAINMAIL_KEY: f.authors[2].privateKey });
      expect(viaEnv.code, viaEnv.stderr).to.equal(0);
      expect(viaEnv.stdout).to.match(/^confirmed: seq \d+/);
      const listed = await runCli(["messages", "--relayer", url, "--channel", "general", "--from-seq", outcome.seq, "--limit", "2"]);
      expect(listed.code, listed.stderr).to.equal(0);
      expect(listed.stdout).to.contain(`#${outcome.seq} `);
      expect(listed.stdout).to.contain("hi from the CLI");
      expect(listed.stdout).to.contain("key from env");
      const json = JSON.parse((await runCli(["messages", "--relayer", url, "--channel", "general", "--json", "--limit", "1"])).stdout);
      expect(json.messages[0].seq).to.equal("1");
      const wrong = await runCli(["post", "--relayer", url, "--channel", "general", "--text", "x"], { CHAINMAIL_KEY: "not-a-key" });
      expect(wrong.code).to.equal(2);
      expect(wrong.stderr).to.match(/CHAINMAIL_KEY is not a 32-byte hex private key\./);
      expect(wrong.stderr).not.to.match(/\n\s+at /);
    });

    it("after a relayer restart, confirmed messages are still found by digest (from the logs)", async function () {
      const posted = await postedLogs(f.node.provider, f.location, f.channel);
      await app!.close();
      app = await buildApp(f.config({ port: 0 }), { defaultMetrics: false });
      url = await app.listen({ host: "127.0.0.1", port: 0 });
      for (const p of posted) {
        const status = await getMessageStatus(url, p.digest);
        expect(status).to.include({ status: "confirmed", seq: p.seq.toString(), transactionHash: p.transactionHash });
      }
    });
  });
}
