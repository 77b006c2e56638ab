import { existsSync, readFileSync, rmSync } from "node:fs";
import path from "node:path";
import type { HardhatRuntimeEnvironment } from "hardhat/types/hre";
import { DEFAULT_LIMITS } from "@chainmail/protocol/limits";
import MessageRegistryModule from "../ignition/modules/MessageRegistry.js";
import { deployedAddressesFile, IGNITION_FUTURE_ID, UserError } from "./support.js";

/** Whole numbers as typed; "" takes the protocol's default. */
interface DeployArgs {
  maxBodyBytes: string;
  maxAge: string;
  maxFutureSkew: string;
  confirmations?: string;
}

function limit(value: string, fallback: number): number {
  if (value === "") return fallback;
  return /^\d{1,15}$/.test(value) ? Number(value) : NaN;
}

// Chains that forget everything on restart: a recorded deployment with no code behind it
// is a leftover from an earlier run, not a deployment to keep.
const DEV_CHAIN_IDS = new Set([31337n, 1337n]);

export default async function deployRegistry(args: DeployArgs, hre: HardhatRuntimeEnvironment): Promise<void> {
  const limits = {
    maxBodyBytes: limit(args.maxBodyBytes, DEFAULT_LIMITS.maxBodyBytes),
    maxAge: limit(args.maxAge, DEFAULT_LIMITS.maxAge),
    maxFutureSkew: limit(args.maxFutureSkew, DEFAULT_LIMITS.maxFutureSkew),
  };
  if (!(limits.maxBodyBytes > 0 && limits.maxAge > 0 && limits.maxFutureSkew >= 0)) {
    throw new UserError("--max-body-bytes and --max-age must be positive and --max-future-skew not negative (whole numbers).");
  }
  const confirmations = args.confirmations === undefined || args.confirmations === "" ? 1 : limit(args.confirmations, 1);
  if (!(confirmations >= 1 && confirmations <= 1000)) throw new UserError("--confirmations must be a whole number from 1 to 1000.");
  const connection = await hre.network.getOrCreate();
  const chainId = (await connection.ethers.provider.getNetwork()).chainId;
  const file = deployedAddressesFile(hre.config.paths.ignition, chainId);
  if (existsSync(file) && DEV_CHAIN_IDS.has(chainId)) {
    const recorded: string | undefined = JSON.parse(readFileSync(file, "utf8"))[IGNITION_FUTURE_ID];
    if (recorded && (await connection.ethers.provider.getCode(recorded)) === "0x") {
      console.log(`Chain ${chainId} was reset since the last deployment; forgetting ${recorded}.`);
      rmSync(path.dirname(file), { recursive: true, force: true });
    }
  }
  const [deployer] = await connection.ethers.getSigners();
  await waitForOwnPending(connection.ethers.provider, deployer.address);
  console.log(`Deploying MessageRegistry from ${deployer.address} on chain ${chainId}; each transaction waits for ${confirmations} confirmation(s).`);
  const started = Date.now();
  const progress = setInterval(() => {
    void connection.ethers.provider.getBlockNumber().then(
      (block) => console.log(`  still deploying after ${Math.round((Date.now() - started) / 1000)} s (chain at block ${block})`),
      () => undefined,
    );
  }, 5000);
  let registry;
  try {
    ({ registry } = await connection.ignition.deploy(MessageRegistryModule, {
      parameters: { MessageRegistryModule: limits },
      config: { requiredConfirmations: confirmations },
      displayUi: false,
    }));
  } finally {
    clearInterval(progress);
  }
  const address = await registry.getAddress();
  console.log(`MessageRegistry deployed at ${address} on chain ${chainId} (network "${connection.networkName}").`);
  console.log(`Next: npx hardhat chainmail channel create general --network ${connection.networkName}`);
}

/**
 * Ignition refuses to start while the deploying account has transactions it did not
 * send that are not yet mined (its IGN403): the deployer key often also signs for a
 * relayer. Wait (bounded, saying so) for them to be mined first.
 */
async function waitForOwnPending(provider: { getTransactionCount(a: string, t: string): Promise<number> }, address: string): Promise<void> {
  const deadline = Date.now() + 120_000;
  let said = false;
  for (;;) {
    const [mined, pending] = await Promise.all([provider.getTransactionCount(address, "latest"), provider.getTransactionCount(address, "pending")]);
    if (pending <= mined) return;
    if (Date.now() > deadline) {
      throw new UserError(`${address} still has ${pending - mined} unmined transaction(s) after 2 minutes (a relayer signing with the same key?); Ignition cannot deploy from it until they are mined. Stop that sender or deploy from another key.`);
    }
    if (!said) console.log(`Waiting for ${pending - mined} unmined transaction(s) of ${address} (a relayer using the same key?) before deploying.`);
    said = true;
    await new Promise((r) => setTimeout(r, 500));
  }
}
