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
  const { registry } = await connection.ignition.deploy(MessageRegistryModule, {
    parameters: { MessageRegistryModule: limits },
    displayUi: false,
  });
  const address = await registry.getAddress();
  console.log(`MessageRegistry deployed at ${address} on chain ${chainId} (network "${connection.networkName}").`);
  console.log(`Next: npx hardhat chainmail channel create general --network ${connection.networkName}`);
}
