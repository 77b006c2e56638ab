/**
 * What every ChainMail task shares: a connection to the chosen network, the registry
 * found without copying its address by hand, and one-sentence plugin errors instead of
 * stack traces for wrong input.
 */
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { isAddress, Wallet, type Signer } from "ethers";
import { HardhatPluginError } from "hardhat/plugins";
import type { HardhatRuntimeEnvironment } from "hardhat/types/hre";
import { MessageRegistry__factory, type MessageRegistry } from "../typechain-types/index.js";
import { channelId } from "@chainmail/protocol";
import { PLUGIN_ID } from "./plugin-id.js";

/**
 * Wrong input from the person running the task. A HardhatPluginError, so Hardhat prints
 * "Error in community plugin chainmail: <sentence>" and exits 1, without a stack trace.
 */
export class UserError extends HardhatPluginError {
  constructor(message: string, cause?: Error) {
    super(PLUGIN_ID, message, cause);
  }
}

export const IGNITION_FUTURE_ID = "MessageRegistryModule#MessageRegistry";

export function deployedAddressesFile(ignitionDir: string, chainId: bigint): string {
  return path.join(ignitionDir, "deployments", `chain-${chainId}`, "deployed_addresses.json");
}

export interface Connected {
  registry: MessageRegistry;
  address: string;
  chainId: bigint;
  signer: Signer;
  connection: Awaited<ReturnType<HardhatRuntimeEnvironment["network"]["connect"]>>;
}

/**
 * Connects to the network given with --network and finds the registry: --registry,
 * else CHAINMAIL_REGISTRY, else the address Ignition recorded for this chain.
 */
export async function connectRegistry(hre: HardhatRuntimeEnvironment, registryOption = ""): Promise<Connected> {
  const connection = await hre.network.getOrCreate();
  const { ethers } = connection;
  let chainId: bigint;
  try {
    chainId = (await ethers.provider.getNetwork()).chainId;
  } catch (error) {
    throw new UserError(
      `Cannot reach the "${connection.networkName}" network. Is the node running (npx hardhat node)?`,
      error as Error,
    );
  }
  const address = registryOption || process.env.CHAINMAIL_REGISTRY || recordedAddress(hre.config.paths.ignition, chainId);
  if (!address) {
    throw new UserError(
      `No MessageRegistry is recorded for chain ${chainId}. Run "npx hardhat chainmail deploy --network ${connection.networkName}" first, or pass --registry ADDRESS.`,
    );
  }
  if (!isAddress(address)) throw new UserError(`"${address}" is not an Ethereum address.`);
  if ((await ethers.provider.getCode(address)) === "0x") {
    throw new UserError(
      `There is no contract at ${address} on chain ${chainId} (was the node restarted?). Run "npx hardhat chainmail deploy --network ${connection.networkName}" again.`,
    );
  }
  const [signer] = await ethers.getSigners();
  return { registry: MessageRegistry__factory.connect(address, signer), address, chainId, signer, connection };
}

function recordedAddress(ignitionDir: string, chainId: bigint): string | undefined {
  const file = deployedAddressesFile(ignitionDir, chainId);
  if (!existsSync(file)) return undefined;
  return JSON.parse(readFileSync(file, "utf8"))[IGNITION_FUTURE_ID];
}

/** A channel that must exist; its id. */
export async function existingChannel(registry: MessageRegistry, name: string): Promise<string> {
  let id: string;
  try {
    id = channelId(name);
  } catch (error) {
    throw new UserError((error as Error).message, error as Error);
  }
  const info = await registry.channelInfo(id);
  if (!info.exists) throw new UserError(`Channel "${name}" does not exist. "npx hardhat chainmail channel list" shows the channels.`);
  return id;
}

export function checkedAddress(value: string, what: string): string {
  if (!isAddress(value)) throw new UserError(`The ${what} "${value}" is not an Ethereum address.`);
  return value;
}

/** The author's key: --key-file, else CHAINMAIL_KEY. */
export function authorKey(keyFile: string): Wallet {
  let key: string | undefined;
  if (keyFile) {
    if (!existsSync(keyFile)) throw new UserError(`Key file "${keyFile}" does not exist.`);
    key = readFileSync(keyFile, "utf8").trim();
  } else {
    key = process.env.CHAINMAIL_KEY;
  }
  if (!key) throw new UserError("No author key: pass --key-file FILE or set CHAINMAIL_KEY to a private key.");
  try {
    return new Wallet(key.startsWith("0x") ? key : `0x${key}`);
  } catch {
    throw new UserError("The author key is not a valid 32-byte hex private key.");
  }
}

/** Prints rows as an aligned table. */
export function printTable(rows: Array<Record<string, string>>): void {
  if (rows.length === 0) return;
  const columns = Object.keys(rows[0]);
  const widths = columns.map((c) => Math.max(c.length, ...rows.map((r) => r[c].length)));
  const line = (values: string[]) => values.map((v, i) => v.padEnd(widths[i])).join("  ").trimEnd();
  console.log(line(columns));
  console.log(line(widths.map((w) => "-".repeat(w))));
  for (const row of rows) console.log(line(columns.map((c) => row[c])));
}
