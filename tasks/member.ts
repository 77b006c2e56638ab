import type { HardhatRuntimeEnvironment } from "hardhat/types/hre";
import { memberRoleOf } from "@chainmail/protocol";
import { checkedAddress, connectRegistry, existingChannel, printTable, UserError } from "./support.js";

interface MemberArgs {
  channel: string;
  address: string;
  registry: string;
}

export async function add(args: MemberArgs, hre: HardhatRuntimeEnvironment): Promise<void> {
  const { registry } = await connectRegistry(hre, args.registry);
  const id = await existingChannel(registry, args.channel);
  const member = checkedAddress(args.address, "member address");
  if (await registry.hasRole(memberRoleOf(id), member)) {
    throw new UserError(`${member} is already a member of "${args.channel}".`);
  }
  await (await registry.grantRole(memberRoleOf(id), member)).wait();
  console.log(`${member} is now a member of "${args.channel}".`);
}

export async function remove(args: MemberArgs, hre: HardhatRuntimeEnvironment): Promise<void> {
  const { registry } = await connectRegistry(hre, args.registry);
  const id = await existingChannel(registry, args.channel);
  const member = checkedAddress(args.address, "member address");
  if (!(await registry.hasRole(memberRoleOf(id), member))) {
    throw new UserError(`${member} is not a member of "${args.channel}".`);
  }
  await (await registry.revokeRole(memberRoleOf(id), member)).wait();
  console.log(`${member} is no longer a member of "${args.channel}".`);
}

/** Current members, rebuilt from the RoleGranted/RoleRevoked history. */
export async function list(args: { channel: string; json: boolean; registry: string }, hre: HardhatRuntimeEnvironment): Promise<void> {
  const { registry } = await connectRegistry(hre, args.registry);
  const id = await existingChannel(registry, args.channel);
  const role = memberRoleOf(id);
  const fromBlock = Number(await registry.deploymentBlock());
  const granted = await registry.queryFilter(registry.filters.RoleGranted(role), fromBlock);
  const revoked = await registry.queryFilter(registry.filters.RoleRevoked(role), fromBlock);
  const since = new Map<string, number>();
  for (const event of [...granted, ...revoked].sort((a, b) => a.blockNumber - b.blockNumber || a.index - b.index)) {
    const account = event.args.account;
    if (event.eventName === "RoleGranted") since.set(account, event.blockNumber);
    else since.delete(account);
  }
  const rows = [...since].map(([address, block]) => ({ address, since: `block ${block}` }));
  if (args.json) console.log(JSON.stringify(rows, null, 2));
  else if (rows.length === 0) console.log(`"${args.channel}" has no members.`);
  else printTable(rows);
}
