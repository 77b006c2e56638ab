/**
 * Deploying with Ignition (`npx hardhat chainmail deploy --network custom`) to geth
 * with blocks on demand, from a key that has just signed another transaction (as when
 * the deployer key also signs for the relayer). Ignition's default of 5 confirmations
 * never comes there (no transactions, no blocks) and it refused the fresh transaction
 * (IGN403); the task must finish and say what it waits for.
 */
import { expect } from "chai";
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { Wallet } from "ethers";
import { devPrivateKey, REPO_ROOT, startGethNode, type RunningGeth } from "@chainmail/testkit";

function hardhat(args: string[], env: Record<string, string>, timeoutMs: number): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      path.join(REPO_ROOT, "node_modules/.bin/hardhat"),
      args,
      { cwd: REPO_ROOT, env: { ...process.env, PATH: `${path.join(REPO_ROOT, "node_modules/.bin")}:${process.env.PATH}`, ...env }, timeout: timeoutMs, killSignal: "SIGKILL" },
      (error, stdout, stderr) => resolve({ code: error ? (typeof error.code === "number" ? error.code : 1) : 0, stdout, stderr }),
    );
  });
}

describe("Ignition deployment on geth with blocks on demand", function () {
  this.timeout(180_000);
  let node: RunningGeth;
  let scratch: string;
  before(async function () {
    node = await startGethNode({ blockTimeMs: 0 });
    scratch = mkdtempSync(path.join(tmpdir(), "chainmail-ignition-geth-"));
  });
  after(async function () {
    await node?.stop();
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  it("deploys from a key with a one-block-old transaction, and reports progress", async function () {
    const key = devPrivateKey(13);
    const relayerLike = new Wallet(key, node.provider);
    await (await relayerLike.sendTransaction({ to: relayerLike.address, value: 0n })).wait();
    const deployed = await hardhat(
      ["chainmail", "deploy", "--network", "custom"],
      { CHAINMAIL_RPC_URL: node.url, CHAINMAIL_DEPLOYER_KEY: key, CHAINMAIL_IGNITION_DIR: scratch },
      120_000,
    );
    expect(deployed.code, deployed.stdout + deployed.stderr).to.equal(0);
    expect(deployed.stdout).to.include(`Deploying MessageRegistry from ${relayerLike.address} on chain 1337; each transaction waits for 1 confirmation(s).`);
    const address = /MessageRegistry deployed at (0x[0-9a-fA-F]{40}) on chain 1337/.exec(deployed.stdout)?.[1];
    expect(address, deployed.stdout).to.not.equal(undefined);
    expect(await node.provider.getCode(address!)).to.not.equal("0x");
  });

  it("refuses a --confirmations that is not a whole number", async function () {
    const refused = await hardhat(["chainmail", "deploy", "--network", "custom", "--confirmations", "x"], { CHAINMAIL_RPC_URL: node.url, CHAINMAIL_DEPLOYER_KEY: devPrivateKey(14), CHAINMAIL_IGNITION_DIR: scratch }, 60_000);
    expect(refused.code).to.not.equal(0);
    expect(refused.stdout + refused.stderr).to.include("--confirmations must be a whole number from 1 to 1000.");
  });
});
