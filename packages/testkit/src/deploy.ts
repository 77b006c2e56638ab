/**
 * Deploying a registry and a channel from code (tests, benchmarks, the local stack).
 * Contract developers use the Ignition module and the Hardhat tasks instead.
 */
import type { Signer } from "ethers";
import { MessageRegistry__factory, type MessageRegistry } from "@chainmail/protocol";
import { channelId, DEFAULT_LIMITS, memberRoleOf, type RegistryLimits } from "@chainmail/protocol";

export interface DeployedRegistry {
  registry: MessageRegistry;
  address: string;
  chainId: bigint;
  deploymentBlock: number;
}

export async function deployRegistry(
  deployer: Signer,
  limits: RegistryLimits = DEFAULT_LIMITS,
): Promise<DeployedRegistry> {
  const registry = await new MessageRegistry__factory(deployer).deploy(await deployer.getAddress(), limits);
  await registry.waitForDeployment();
  const network = await deployer.provider!.getNetwork();
  return {
    registry,
    address: await registry.getAddress(),
    chainId: network.chainId,
    deploymentBlock: Number(await registry.deploymentBlock()),
  };
}

/** Creates `name` with `admin` as its channel admin and adds `members`. */
export async function createChannelWithMembers(
  registry: MessageRegistry,
  name: string,
  admin: Signer,
  members: string[],
): Promise<string> {
  const id = channelId(name);
  await (await registry.createChannel(id, await admin.getAddress())).wait();
  const asAdmin = registry.connect(admin);
  for (const member of members) {
    await (await asAdmin.grantRole(memberRoleOf(id), member)).wait();
  }
  return id;
}
