import type { HardhatRuntimeEnvironment } from "hardhat/types/hre";
import { allChannelIds, channelName, memberRoleOf } from "@chainmail/protocol";
import { channelId } from "@chainmail/protocol";
import {
  checkedAddress,
  connectRegistry,
  existingChannel,
  printTable,
  UserError,
} from "./support.js";

interface ChannelArgs {
  name: string;
  registry: string;
}

export async function create(args: ChannelArgs & { admin: string }, hre: HardhatRuntimeEnvironment): Promise<void> {
  const { registry, signer } = await connectRegistry(hre, args.registry);
  let id: string;
  try {
    id = channelId(args.name);
  } catch (error) {
    throw new UserError((error as Error).message, error as Error);
  }
  const admin = args.admin ? checkedAddress(args.admin, "admin") : await signer.getAddress();
  if ((await registry.channelInfo(id)).exists) throw new UserError(`Channel "${args.name}" already exists.`);
  await (await registry.createChannel(id, admin)).wait();
  console.log(`Channel "${args.name}" created (id ${id}), administered by ${admin}.`);
}

export async function close(args: ChannelArgs, hre: HardhatRuntimeEnvironment): Promise<void> {
  const { registry } = await connectRegistry(hre, args.registry);
  const id = await existingChannel(registry, args.name);
  if (!(await registry.channelInfo(id)).open) throw new UserError(`Channel "${args.name}" is already closed.`);
  await (await registry.closeChannel(id)).wait();
  console.log(`Channel "${args.name}" closed: it accepts no more messages.`);
}

export async function reopen(args: ChannelArgs, hre: HardhatRuntimeEnvironment): Promise<void> {
  const { registry } = await connectRegistry(hre, args.registry);
  const id = await existingChannel(registry, args.name);
  if ((await registry.channelInfo(id)).open) throw new UserError(`Channel "${args.name}" is already open.`);
  await (await registry.reopenChannel(id)).wait();
  console.log(`Channel "${args.name}" reopened.`);
}

export async function list(args: { json: boolean; registry: string }, hre: HardhatRuntimeEnvironment): Promise<void> {
  const { registry } = await connectRegistry(hre, args.registry);
  const ids = await allChannelIds(registry);
  const rows = [];
  for (const id of ids) {
    const info = await registry.channelInfo(id);
    rows.push({
      name: channelName(id),
      id,
      state: info.open ? "open" : "closed",
      seq: info.seq.toString(),
      head: info.head,
      memberRole: memberRoleOf(id),
    });
  }
  if (args.json) console.log(JSON.stringify(rows, null, 2));
  else if (rows.length === 0) console.log('No channels yet. Create one with "npx hardhat chainmail channel create NAME".');
  else printTable(rows.map(({ name, state, seq, head }) => ({ name, state, seq, head })));
}
