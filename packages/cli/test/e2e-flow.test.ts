/**
 * The whole flow as a team meets it, every part real and a separate process:
 * `chainmail post` (CLI) -> relayer (HTTP) -> hardhat node (JSON-RPC) -> mirror ->
 * Kafka -> `chainmail tail` -> `chainmail audit` against both the chain and Kafka.
 * Once with automine and once with 1-second blocks.
 */
import { expect } from "chai";
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { Wallet } from "ethers";
import { ChainmailProcess, createChannelWithMembers, deployRegistry } from "@chainmail/testkit";
import { devPrivateKey } from "@chainmail/testkit";
import { REPO_ROOT, startHardhatNode, type RunningNode } from "@chainmail/testkit";
import { kafkaBrokers, uniqueTopics } from "@chainmail/testkit";

const CHAINMAIL = path.join(REPO_ROOT, "node_modules/.bin/chainmail");
const ENV_PATH = `${path.join(REPO_ROOT, "node_modules/.bin")}:${process.env.PATH}`;

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

function chainmail(args: string[], env: Record<string, string> = {}, timeoutMs = 90_000): Promise<Result> {
  return new Promise((resolve) => {
    execFile(
      CHAINMAIL,
      args,
      { cwd: REPO_ROOT, env: { ...process.env, PATH: ENV_PATH, ...env }, timeout: timeoutMs, killSignal: "SIGKILL" },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === "number" ? error.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

for (const mode of [
  { name: "automine", blockTimeMs: undefined },
  { name: "1-second blocks", blockTimeMs: 1000 },
]) {
  describe(`the whole flow, CLI to audit, with ${mode.name}`, function () {
    this.timeout(240_000);
    const brokers = kafkaBrokers().join(",");
    const topics = uniqueTopics(`e2e-${mode.blockTimeMs ?? "auto"}`);
    let node: RunningNode;
    let relayer: ChainmailProcess;
    let mirror: ChainmailProcess;
    let registry: string;
    let relayerUrl: string;
    let keyFile: string;
    let scratch: string;

    before(async function () {
      node = await startHardhatNode({ blockTimeMs: mode.blockTimeMs });
      const deployer = new Wallet(devPrivateKey(0), node.provider);
      const admin = new Wallet(devPrivateKey(1), node.provider);
      const alice = new Wallet(devPrivateKey(2));
      const deployed = await deployRegistry(deployer);
      registry = deployed.address;
      await createChannelWithMembers(deployed.registry, "general", admin, [alice.address]);
      scratch = mkdtempSync(path.join(tmpdir(), "chainmail-e2e-"));
      keyFile = path.join(scratch, "alice.key");
      writeFileSync(keyFile, alice.privateKey);

      relayer = ChainmailProcess.relayer({
        CHAINMAIL_RPC_URL: node.url,
        CHAINMAIL_REGISTRY: registry,
        CHAINMAIL_SIGNER_KEYS: devPrivateKey(13),
        CHAINMAIL_LOG_LEVEL: "warn",
      });
      mirror = new ChainmailProcess(["mirror"], {
        CHAINMAIL_RPC_URL: node.url,
        CHAINMAIL_REGISTRY: registry,
        KAFKA_BROKERS: brokers,
        CHAINMAIL_MESSAGES_TOPIC: topics.messages,
        CHAINMAIL_MEMBERSHIP_TOPIC: topics.membership,
        CHAINMAIL_MIRROR_CURSOR_TOPIC: topics.cursor,
        CHAINMAIL_MIRROR_TRANSACTIONAL_ID: `${topics.messages}.mirror`,
        CHAINMAIL_MIRROR_POLL_MS: "200",
        CHAINMAIL_LOG_LEVEL: "warn",
      });
      await mirror.start();
      await relayer.start();
      await relayer.ready(60_000);
      relayerUrl = relayer.url;
    });

    after(async function () {
      await relayer?.kill9();
      await mirror?.kill9();
      await node?.stop();
      if (scratch) rmSync(scratch, { recursive: true, force: true });
    });

    it("posts through HTTP, confirms on-chain, delivers through Kafka to tail, and audits clean", async function () {
      const texts = ["hello from the CLI", "second message", "a reply to the first"];
      for (const [i, text] of texts.entries()) {
        const args = ["post", "--relayer", relayerUrl, "--key-file", keyFile, "--channel", "general", "--text", text, "--wait", "--json"];
        if (i === 2) args.push("--reply-to", "1");
        const posted = await chainmail(args);
        expect(posted.code, posted.stderr).to.equal(0);
        const outcome = JSON.parse(posted.stdout);
        expect(outcome.status, posted.stdout).to.equal("confirmed");
        expect(String(outcome.seq)).to.equal(String(i + 1));
      }

      const tailed = await chainmail([
        "tail",
        "--channel",
        "general",
        "--brokers",
        brokers,
        "--topic",
        topics.messages,
        "--from-beginning",
        "--max-messages",
        String(texts.length),
      ]);
      expect(tailed.code, `${tailed.stderr}\nmirror: ${mirror.log}`).to.equal(0);
      const lines = tailed.stdout.trim().split("\n");
      expect(lines).to.have.length(texts.length);
      lines.forEach((line, i) => {
        expect(line).to.match(new RegExp(`^#${i + 1} `));
        expect(line).to.include(texts[i]);
      });
      expect(lines[2]).to.include("(reply to #1)");

      const audited = await chainmail([
        "audit",
        "--rpc-url",
        node.url,
        "--registry",
        registry,
        "--brokers",
        brokers,
        "--topic",
        topics.messages,
      ]);
      expect(audited.code, audited.stdout + audited.stderr).to.equal(0);
      expect(audited.stdout).to.match(/general\s+3 messages\s+seq 1\.\.3 \(stored 3\)/);
      expect(audited.stdout).to.match(/Kafka .* 3 message events compared\s+ok/);
      expect(audited.stdout).to.include("Clean:");
    });

    it("cancels a signed message with `chainmail nonces invalidate`: the relayer then answers 409 NonceUsed", async function () {
      const signed = await chainmail(["sign", "--relayer", relayerUrl, "--key-file", keyFile, "--channel", "general", "--text", "withdrawn"]);
      expect(signed.code, signed.stderr).to.equal(0);
      const message = JSON.parse(signed.stdout);
      const cancelled = await chainmail(["nonces", "invalidate", "--rpc-url", node.url, "--registry", registry, "--key-file", keyFile, "--nonce", String(message.nonce)]);
      expect(cancelled.code, cancelled.stderr).to.equal(0);
      expect(cancelled.stdout).to.include("1 nonce(s) of");
      const response = await fetch(`${relayerUrl}/v1/messages?wait=true`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(message),
      });
      const body = await response.json();
      expect([response.status, body.code], JSON.stringify(body)).to.deep.equal([409, "NonceUsed"]);
      const wrong = await chainmail(["nonces", "invalidate", "--rpc-url", node.url, "--registry", registry, "--key-file", keyFile, "--nonce", "12x"]);
      expect(wrong.code).to.equal(2);
      expect(wrong.stderr).to.include('chainmail nonces: --nonce is "12x"; it must be a whole number from 0 to 2^256-1, decimal or 0x hex.');
    });
  });
}
