/**
 * A real history for the audit tests: a hardhat node, a registry, several channels with
 * members, messages posted through postBatch, and one member revoked after posting.
 * Forgery helpers re-encode real logs the way a tamperer would.
 */
import { Wallet, type JsonRpcProvider } from "ethers";
import { createChannelWithMembers, deployRegistry } from "@chainmail/testkit";
import { devPrivateKey } from "@chainmail/testkit";
import {
  bodyFromText,
  digestOf,
  MESSAGE_POSTED_TOPIC,
  memberRoleOf,
  nextHead,
  randomNonce,
  registryInterface,
  signMessage,
  toCallArgument,
  type Message,
  type RegistryLocation,
  packBatch,
  encodeMessagePosted,
  MessagePostedDecoder,
} from "@chainmail/protocol";
import type { MessageRegistry } from "@chainmail/protocol";
import type { RawLog } from "@chainmail/audit";

export interface History {
  registry: MessageRegistry;
  location: RegistryLocation & { chainId: bigint };
  wallets: Record<"admin" | "alice" | "bob" | "carol" | "dave" | "mallory", Wallet>;
  channels: { general: string; ops: string; hr: string; empty: string };
  /** Block in which dave lost his hr membership. */
  revokedAt: number;
  posted: number;
}

export async function buildHistory(provider: JsonRpcProvider): Promise<History> {
  const w = (i: number) => new Wallet(devPrivateKey(i), provider);
  const deployer = w(0);
  const wallets = { admin: w(1), alice: w(2), bob: w(3), carol: w(4), dave: w(5), mallory: w(6) };
  const { registry, address, chainId } = await deployRegistry(deployer);
  const location = { chainId, address };
  const channels = {
    general: await createChannelWithMembers(registry, "general", wallets.admin, [wallets.alice.address, wallets.bob.address]),
    ops: await createChannelWithMembers(registry, "ops", wallets.admin, [wallets.bob.address, wallets.carol.address]),
    hr: await createChannelWithMembers(registry, "hr", wallets.admin, [wallets.dave.address]),
    empty: await createChannelWithMembers(registry, "empty", wallets.admin, [wallets.alice.address]),
  };
  let posted = 0;
  const post = async (items: Array<[string, Wallet, string]>) => {
    const block = await provider.getBlock("latest");
    const signed = [];
    for (const [channel, author, text] of items) {
      signed.push(
        await signMessage(author, location, {
          channel,
          author: author.address,
          body: bodyFromText(text),
          contentType: 1,
          timestamp: BigInt(block!.timestamp),
          replyTo: 0n,
          nonce: randomNonce(),
        }),
      );
    }
    const receipt = await (await registry.connect(deployer).postBatch(packBatch(signed))).wait();
    posted += receipt!.logs.filter((l) => l.topics[0] === MESSAGE_POSTED_TOPIC).length;
  };
  await post([
    [channels.general, wallets.alice, "hello general"],
    [channels.general, wallets.bob, "hi alice"],
    [channels.ops, wallets.carol, "deploy at 5"],
  ]);
  await post([
    [channels.general, wallets.alice, "agenda attached"],
    [channels.ops, wallets.bob, "ack"],
    [channels.general, wallets.bob, "thanks"],
    [channels.hr, wallets.dave, "leaving friday"],
  ]);
  await post([
    [channels.general, wallets.alice, "see you"],
    [channels.hr, wallets.dave, "handover notes"],
    [channels.ops, wallets.carol, "done"],
  ]);
  const revoke = await (await registry.connect(wallets.admin).revokeRole(memberRoleOf(channels.hr), wallets.dave.address)).wait();
  return { registry, location, wallets, channels, revokedAt: revoke!.blockNumber, posted };
}

/** The fields of a MessagePosted log, to change and re-encode. */
export interface PostedFields extends Message {
  seq: bigint;
  head: string;
  signature: string;
}

export function fieldsOf(log: RawLog): PostedFields {
  // The fields only: the digest (which needs the registry's domain) is not used here.
  const p = new MessagePostedDecoder({ chainId: 0n, address: "0x" + "00".repeat(20) }).decode(log);
  return {
    channel: p.channel,
    author: p.author,
    body: p.body,
    contentType: Number(p.contentType),
    timestamp: p.timestamp,
    replyTo: p.replyTo,
    nonce: p.nonce,
    seq: p.seq,
    head: p.head,
    signature: p.signature,
  };
}

/** A log at `position` carrying `fields`, encoded as the contract would. */
export function encodeLog(fields: PostedFields, position: Pick<RawLog, "blockNumber" | "blockHash" | "transactionHash" | "index" | "address">): RawLog {
  const { data, topics } = encodeMessagePosted(fields);
  return { ...position, topics, data };
}

/** A properly signed message appended after `previous` (head computed), as a forger with a key would make it. */
export async function forgeNext(
  location: RegistryLocation,
  author: Wallet,
  previous: PostedFields,
  text: string,
  position: Pick<RawLog, "blockNumber" | "blockHash" | "transactionHash" | "index">,
): Promise<{ log: RawLog; fields: PostedFields }> {
  const message: Message = {
    channel: previous.channel,
    author: author.address,
    body: bodyFromText(text),
    contentType: 1,
    timestamp: previous.timestamp + 20n,
    replyTo: 0n,
    nonce: randomNonce(),
  };
  const signed = await signMessage(author, location, message);
  const seq = previous.seq + 1n;
  const fields = { ...signed, seq, head: nextHead(previous.head, digestOf(location, message), seq) };
  return { log: encodeLog(fields, { ...position, address: location.address }), fields };
}
