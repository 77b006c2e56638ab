/**
 * The image as users run it: built by scripts/image/build.sh (FROM scratch over a
 * Debian minbase rootfs), started with podman as the relayer and the mirror, read-only
 * and as user 10001, against a real hardhat node and the Kafka broker; a message posted
 * through the containerized relayer is read back from Kafka and the audit of chain and
 * Kafka is clean.
 */
import { expect } from "chai";
import { Wallet } from "ethers";
import { postMessage } from "@chainmail/client";
import { readTopic } from "@chainmail/mirror";
import { devPrivateKey, freePort, kafkaBrokers, REPO_ROOT, testKafka, uniqueTopics, waitFor } from "@chainmail/testkit";
import path from "node:path";
import { buildImage, IMAGE, keyFolder, ok, podman, podmanOk, startLocalChain, unique, type LocalChain } from "./support.js";

const DEV_KEYS = Array.from({ length: 20 }, (_, i) => devPrivateKey(i).slice(2));

describe("the ChainMail image", function () {
  before(async function () {
    console.log(`      ${await buildImage()}`);
  });

  it("runs `chainmail` as user 10001, holds no dev dependencies and no keys", async function () {
    const config = JSON.parse(await podmanOk(["image", "inspect", "--format", "{{json .Config}}", IMAGE]));
    expect(config.User).to.equal("10001:10001");
    expect(config.Entrypoint).to.deep.equal(["/usr/local/bin/chainmail"]);
    // One container for what the default user sees (each run copies the image under vfs).
    const [id, version, ...installed] = (
      await podmanOk(["run", "--rm", "--read-only", "--entrypoint", "/bin/sh", IMAGE, "-c", "id && chainmail --version && ls /app/node_modules/.pnpm"])
    ).split("\n");
    expect(id).to.match(/^uid=10001\(chainmail\) gid=10001\(chainmail\)/);
    expect(version).to.match(/\d+\.\d+\.\d+/);
    for (const wanted of ["kafkajs@", "fastify@", "ethers@", "@chainmail+relayer@", "@chainmail+mirror@"]) {
      expect(installed.some((p) => p.startsWith(wanted)), `${wanted} is missing`).to.equal(true);
    }
    for (const dev of ["mocha@", "hardhat@", "typescript@", "tsx@", "chai@", "solc@", "@chainmail+testkit@", "@nomicfoundation+"]) {
      expect(installed.filter((p) => p.startsWith(dev)), `dev dependency ${dev} in the image`).to.deep.equal([]);
    }

    // Every file of the image, searched for Hardhat's well-known development keys and
    // their mnemonic: none may ship (grep exits 1 when nothing matches).
    const patterns = [...DEV_KEYS, "test test test test test test test test test test test junk"].flatMap((k) => ["-e", k]);
    const search = await podman(["run", "--rm", "--user", "0", "--entrypoint", "/usr/bin/grep", IMAGE, "-rIlF", ...patterns, "/app", "/usr", "/etc", "/root", "/home"], { timeoutMs: 300_000 });
    expect(search.stdout, "files holding a development key").to.equal("");
    expect(search.code, search.stderr).to.equal(1);
  });

  describe("relayer and mirror as containers against the local chain and Kafka", function () {
    let chain: LocalChain;
    let keys: ReturnType<typeof keyFolder>;
    const names = { relayer: unique("chainmail-test-relayer"), mirror: unique("chainmail-test-mirror") };
    const topics = uniqueTopics("image");
    const brokers = kafkaBrokers().join(",");
    let relayerUrl: string;

    before(async function () {
      chain = await startLocalChain();
      // As the chart mounts the relayer's Secret: one file per pod name.
      keys = keyFolder({ "chainmail-relayer-0": devPrivateKey(13) });
      const [port, grpcPort] = [await freePort(), await freePort()];
      relayerUrl = `http://127.0.0.1:${port}`;
      const common = ["run", "-d", "--read-only", "--network", "host", "--tmpfs", "/tmp"];
      await podmanOk([
        // The journal's volume, as the chart mounts the pod's claim (the image is read-only).
        ...common, "--name", names.relayer, "-v", `${keys.dir}:/var/run/chainmail/signer-keys:ro`, "--tmpfs", "/var/lib/chainmail/journal:rw,mode=1777",
        "-e", `CHAINMAIL_RPC_URL=${chain.node.url}`, "-e", `CHAINMAIL_REGISTRY=${chain.registry}`,
        "-e", "CHAINMAIL_SIGNER_KEYS_FILE=/var/run/chainmail/signer-keys/chainmail-relayer-0",
        "-e", "CHAINMAIL_HOST=127.0.0.1", "-e", `CHAINMAIL_PORT=${port}`, "-e", `CHAINMAIL_GRPC_PORT=${grpcPort}`,
        IMAGE, "relayer",
      ]);
      await podmanOk([
        ...common, "--name", names.mirror,
        IMAGE, "mirror", "--rpc-url", chain.node.url, "--registry", chain.registry, "--brokers", brokers,
        "--messages-topic", topics.messages, "--membership-topic", topics.membership, "--cursor-topic", topics.cursor,
        "--transactional-id", `${topics.messages}.mirror`, "--poll-interval-ms", "200",
      ]);
      await waitFor("the containerized relayer to be ready", async () => {
        const state = (await podmanOk(["inspect", "--format", "{{.State.Status}}", names.relayer])).trim();
        if (state !== "running") throw new Error(`relayer container ${state}: ${(await podman(["logs", names.relayer])).stdout}`);
        return (await fetch(`${relayerUrl}/readyz`)).ok;
      }, { timeoutMs: 60_000, intervalMs: 250 });
    });

    after(async function () {
      if (this.currentTest?.state === "failed") {
        for (const name of Object.values(names)) console.log(`--- ${name}\n${(await podman(["logs", "--tail", "40", name])).stdout}`);
      }
      await podman(["rm", "-f", "-t", "0", names.relayer, names.mirror]);
      keys?.remove();
      await chain?.stop();
    });

    it("posts through the relayer container, reads it back from Kafka, and the audit is clean", async function () {
      const alice = new Wallet(chain.alice.privateKey);
      const texts = ["hello from a container", "second one"];
      for (const [i, text] of texts.entries()) {
        const result = await postMessage({ relayerUrl, signer: alice, channel: "general", text }, { wait: true });
        expect(result.status).to.equal("confirmed");
        expect(String((result as { seq: unknown }).seq)).to.equal(String(i + 1));
      }
      const info = await (await fetch(`${relayerUrl}/v1/info`)).json() as { signers: string[] };
      expect(info.signers).to.deep.equal([new Wallet(devPrivateKey(13)).address]);

      const kafka = testKafka();
      const records = await waitFor("the mirror container to publish both messages", async () => {
        const read = await readTopic(kafka, topics.messages).catch(() => []);
        return read.length >= texts.length ? read : undefined;
      }, { timeoutMs: 60_000, intervalMs: 500 });
      expect(records.map((r) => r.value.seq)).to.deep.equal(["1", "2"]);
      expect(records.map((r) => Buffer.from(r.value.body.slice(2), "hex").toString())).to.deep.equal(texts);

      const audited = await ok(path.join(REPO_ROOT, "node_modules/.bin/chainmail"), [
        "audit", "--rpc-url", chain.node.url, "--registry", chain.registry, "--brokers", brokers, "--topic", topics.messages,
      ]);
      expect(audited).to.match(/general\s+2 messages\s+seq 1\.\.2 \(stored 2\)/);
      expect(audited).to.match(/Kafka .* 2 message events compared\s+ok/);
      expect(audited).to.include("Clean:");
    });
  });
});
