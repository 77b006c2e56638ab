/**
 * `chainmail prove --digest D` and its offline check by `chainmail verify-evidence`:
 * a real hardhat node (a block holding the message's batch among other transactions of
 * several types), the proof verified after the node is stopped, and every one-byte
 * change (message field, receipt, proof node, header, manifest) refused with its reason.
 * A lying endpoint (receipts that do not build the header's receiptsRoot) is refused
 * when the proof is written.
 */
import { expect } from "chai";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { Wallet } from "ethers";
import { EvidenceError, proveMessage, verifyMessageProof, type MessageProof } from "@chainmail/audit";
import { ProofError, RpcClient } from "@chainmail/chain";
import { bodyFromText, channelId, digestOf, signMessage, toCallArgument, packBatch } from "@chainmail/protocol";
import { CHAINMAIL_CLI, devPrivateKey, registryFixture, startHardhatNode, type RunningNode } from "@chainmail/testkit";
import { startLyingProxy } from "./lying-proxy.js";

const cli = (...args: string[]) => spawnSync(process.execPath, [CHAINMAIL_CLI, ...args], { encoding: "utf8", env: { ...process.env, CHAINMAIL_RPC_URL: "", CHAINMAIL_REGISTRY: "" } });

/** `hex` with one byte changed at byte `at` (from the end when negative). */
function oneByte(hex: string, at: number): string {
  const bytes = (hex.length - 2) / 2;
  const i = 2 + 2 * ((at + bytes) % bytes);
  const b = parseInt(hex.slice(i, i + 2), 16) ^ 0x01;
  return hex.slice(0, i) + b.toString(16).padStart(2, "0") + hex.slice(i + 2);
}

function refusedBy(proof: MessageProof, checkpoint?: { block: number; hash: string }): string {
  try {
    verifyMessageProof(proof, checkpoint);
  } catch (error) {
    expect(error).to.be.instanceOf(EvidenceError);
    return (error as Error).message;
  }
  return expect.fail("the changed proof was accepted");
}

describe("prove: a single message's proof, checked offline", function () {
  let node: RunningNode;
  let registry: string;
  let digests: string[];
  let proof: MessageProof;
  let dir: string;

  before(async function () {
    node = await startHardhatNode();
    const fx = await registryFixture(node.provider, ["general"]);
    registry = fx.address;
    // The batch shares its block with transfers of other types, so the receipts trie has branches.
    await node.provider.send("evm_setAutomine", [false]);
    const block = await node.provider.getBlock("latest");
    const author = fx.members[0];
    const signed = [];
    for (let i = 1; i <= 3; i++) {
      signed.push(await signMessage(author, fx.location, { channel: channelId("general"), author: author.address, body: bodyFromText(`proven ${i}`), contentType: 1, timestamp: BigInt(block!.timestamp), replyTo: 0n, nonce: 100n + BigInt(i) }));
    }
    const others = [5, 6, 7, 8].map((i) => new Wallet(devPrivateKey(i), node.provider));
    await others[0].sendTransaction({ type: 0, to: others[1].address, value: 1n, gasPrice: 3_000_000_000n, gasLimit: 21_000n });
    await others[1].sendTransaction({ type: 1, to: others[2].address, value: 1n, gasPrice: 3_000_000_000n, gasLimit: 21_000n });
    const batch = await fx.registry.connect(fx.deployer).postBatch(packBatch(signed));
    await others[2].sendTransaction({ type: 2, to: others[3].address, value: 1n, maxFeePerGas: 3_000_000_000n, maxPriorityFeePerGas: 1n, gasLimit: 21_000n });
    await node.provider.send("evm_mine", []);
    await node.provider.send("evm_setAutomine", [true]);
    await batch.wait();
    digests = signed.map((m) => digestOf(fx.location, m));
    proof = await proveMessage(new RpcClient(node.url), registry, digests[1]);
    dir = mkdtempSync(path.join(tmpdir(), "chainmail-prove-"));
  });
  after(async () => node?.stop());

  it("writes a proof with the CLI that verify-evidence accepts with no node running, anchored to the checkpoint", async function () {
    const file = path.join(dir, "message.json");
    const written = cli("prove", "--digest", digests[1], "--rpc-url", node.url, "--registry", registry, "--out", file);
    expect(written.status, written.stderr).to.equal(0);
    const onDisk = JSON.parse(readFileSync(file, "utf8")) as MessageProof;
    expect(onDisk.receipt.logs.length).to.equal(3);
    expect(onDisk.manifest.logIndex).to.equal(1);
    expect(Number(onDisk.header.number)).to.equal(onDisk.manifest.block);
    const block = await node.provider.getBlock(onDisk.manifest.block);
    expect(block!.transactions.length, "the batch shares its block").to.equal(4);
    const checkpoint = `${onDisk.manifest.block}:${block!.hash}`;
    expect(written.stderr).to.contain(`chainmail verify-evidence ${file} --checkpoint ${checkpoint}`);

    await node.stop(); // offline from here on
    const verified = cli("verify-evidence", file, "--checkpoint", checkpoint);
    expect(verified.status, verified.stderr).to.equal(0);
    expect(verified.stdout).to.contain(`Message proven: digest ${digests[1].toLowerCase()}`);
    expect(verified.stdout).to.match(/seq 2 of channel general by 0x[0-9a-fA-F]{40}/);
    expect(verified.stdout).to.contain(`Trusted: the checkpoint ${checkpoint}`);
    const json = cli("verify-evidence", file, "--json");
    expect(json.status, json.stderr).to.equal(0);
    expect(JSON.parse(json.stdout)).to.include({ ok: true, digest: digests[1].toLowerCase(), block: onDisk.manifest.block });
    expect(JSON.parse(json.stdout).trusted).to.match(/as the file gives it \(give --checkpoint/);

    // One byte changed in the file: refused, exit 1, with the reason.
    const tampered = structuredClone(onDisk);
    tampered.message.body = oneByte(tampered.message.body, 0);
    const bad = path.join(dir, "tampered.json");
    writeFileSync(bad, JSON.stringify(tampered));
    const refused = cli("verify-evidence", bad, "--checkpoint", checkpoint);
    expect(refused.status).to.equal(1);
    expect(refused.stderr).to.match(/^chainmail verify-evidence: refused: The message's body differ from the proven log's/);
    const wrongCheckpoint = cli("verify-evidence", file, "--checkpoint", `${onDisk.manifest.block}:0x${"ab".repeat(32)}`);
    expect(wrongCheckpoint.status).to.equal(1);
    expect(wrongCheckpoint.stderr).to.contain(`but the checkpoint says 0x${"ab".repeat(32)}`);
    const otherBlock = cli("verify-evidence", file, "--checkpoint", `${onDisk.manifest.block - 1}:${block!.hash}`);
    expect(otherBlock.status).to.equal(1);
    expect(otherBlock.stderr).to.contain(`the message is in block ${onDisk.manifest.block}; give that block's checkpoint`);
  });

  it("the library's proof verifies and gives the proven message's fields", async function () {
    expect(verifyMessageProof(proof).message.body).to.equal(bodyFromText("proven 2").toLowerCase());
  });

  it("refuses a one-byte change in every message field", function () {
    for (const key of Object.keys(proof.message) as Array<keyof MessageProof["message"]>) {
      const changed = structuredClone(proof);
      const value = String(changed.message[key]);
      (changed.message as unknown as Record<string, unknown>)[key] = value.startsWith("0x") ? oneByte(value, -1) : key === "contentType" ? Number(value) + 1 : String(BigInt(value) + 1n);
      expect(refusedBy(changed), key).to.match(new RegExp(`The message's ${key} differ from the proven log's \\(${key}: log `));
    }
  });

  it("refuses a one-byte change in the receipt (status, gas, bloom, any log's address, topic or data) and in any proof node", function () {
    const cases: Array<[string, (p: MessageProof) => void]> = [
      ["cumulativeGasUsed", (p) => (p.receipt.cumulativeGasUsed = "0x" + (BigInt(p.receipt.cumulativeGasUsed) ^ 1n).toString(16))],
      ["logsBloom", (p) => (p.receipt.logsBloom = oneByte(p.receipt.logsBloom, 7))],
      ["status", (p) => (p.receipt.status = "0x0")],
      ["type", (p) => (p.receipt.type = "0x1")],
      ["another log's data", (p) => (p.receipt.logs[0].data = oneByte(p.receipt.logs[0].data, -1))],
      ["the message log's data", (p) => (p.receipt.logs[1].data = oneByte(p.receipt.logs[1].data, 200))],
      ["the message log's topic", (p) => (p.receipt.logs[1].topics[1] = oneByte(p.receipt.logs[1].topics[1], 3))],
      ["the message log's address", (p) => (p.receipt.logs[1].address = oneByte(p.receipt.logs[1].address, 19))],
    ];
    for (const [what, change] of cases) {
      const changed = structuredClone(proof);
      change(changed);
      expect(refusedBy(changed), what).to.match(/The receipt differs from the one proven under block \d+'s receiptsRoot at index \d+/);
    }
    for (let i = 0; i < proof.proof.length; i++) {
      const changed = structuredClone(proof);
      changed.proof[i] = oneByte(changed.proof[i], 40);
      expect(refusedBy(changed), `node ${i}`).to.match(new RegExp(`receipts-trie proof of transaction \\d+: proof node ${i} hashes to 0x[0-9a-f]{64}, not to`));
    }
    const extra = structuredClone(proof);
    extra.proof.push(extra.proof[0]);
    expect(refusedBy(extra)).to.match(/the proof has 1 node\(s\) beyond the path/);
    const moved = structuredClone(proof);
    moved.manifest.transactionIndex += 1;
    moved.receipt.transactionIndex = "0x" + moved.manifest.transactionIndex.toString(16);
    expect(refusedBy(moved)).to.match(/receipts-trie proof of transaction \d+: proof node \d+ hashes to|shows no receipt/);
  });

  it("refuses a one-byte change in the header and in the manifest's claims", function () {
    for (const name of ["parentHash", "stateRoot", "receiptsRoot", "logsBloom", "hash"] as const) {
      const changed = structuredClone(proof);
      changed.header[name] = oneByte(changed.header[name]!, 5);
      expect(refusedBy(changed), name).to.match(/^The header does not verify: Block \d+'s header fields hash to 0x[0-9a-f]{64}, not to its claimed hash/);
    }
    const claims: Array<[string, (p: MessageProof) => void, RegExp]> = [
      ["digest", (p) => (p.manifest.digest = oneByte(p.manifest.digest, 0)), /fields hash to digest 0x[0-9a-f]{64} .*not to the manifest's/],
      ["chainId", (p) => (p.manifest.chainId = "31338"), /fields hash to digest 0x[0-9a-f]{64} \(chain 31338/],
      ["registry", (p) => (p.manifest.registry = oneByte(p.manifest.registry, 19)), /was emitted by 0x[0-9a-f]{40}, not by the registry/],
      ["blockHash", (p) => (p.manifest.blockHash = oneByte(p.manifest.blockHash, 0)), /but the manifest says block/],
      ["logIndex", (p) => (p.manifest.logIndex = 0), /The message's .* differ from the proven log's/],
    ];
    for (const [what, change, reason] of claims) {
      const changed = structuredClone(proof);
      change(changed);
      expect(refusedBy(changed), what).to.match(reason);
    }
  });

  it("prove says it cannot reach the node, and refuses wrong input (exit 2)", function () {
    const missing = cli("prove", "--digest", "0x" + "12".repeat(32), "--rpc-url", "http://127.0.0.1:9", "--registry", registry);
    expect(missing.status).to.equal(2); // the node is unreachable (stopped above or not): not a verdict
    expect(missing.stderr).to.match(/^chainmail prove: .*cannot reach the node/);
    const wrong = cli("prove", "--digest", "0x12", "--registry", "nope");
    expect(wrong.status).to.equal(2);
    expect(wrong.stderr).to.contain(`--digest is "0x12"; it must be a 32-byte hash`);
    expect(wrong.stderr).to.contain("--rpc-url");
  });
});

describe("prove against a lying endpoint", function () {
  it("refuses receipts that do not build the header's receiptsRoot, and names a digest that was never posted", async function () {
    const node = await startHardhatNode();
    const proxy = await startLyingProxy(node.url);
    try {
      const fx = await registryFixture(node.provider, ["general"]);
      const { signed } = await fx.post("general", ["one", "two"]);
      const digest = digestOf(fx.location, signed[0]);
      proxy.lie((request, result) => {
        if (request.method === "eth_getTransactionReceipt" && result) (result as { cumulativeGasUsed: string }).cumulativeGasUsed = "0x1";
        return result;
      });
      const error = await proveMessage(new RpcClient(proxy.url), fx.address, digest).catch((e) => e);
      expect(error).to.be.instanceOf(ProofError);
      expect(error.message).to.match(/The node's receipts for block \d+ build the root 0x[0-9a-f]{64}, not the header's receiptsRoot/);
      proxy.lie(null);
      const missing = cli("prove", "--digest", "0x" + "12".repeat(32), "--rpc-url", node.url, "--registry", fx.address);
      expect(missing.status).to.equal(1);
      expect(missing.stderr).to.match(/^chainmail prove: No message with digest 0x(12){32} was posted by registry/);
    } finally {
      await proxy.close();
      await node.stop();
    }
  });
});
