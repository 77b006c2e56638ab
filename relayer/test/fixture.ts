/**
 * A real hardhat node with a deployed registry and a "general" channel: what the
 * relayer tests start from. Authors are dev keys 2..5; the relayer pays with dev key 10
 * (so it never shares a nonce with the deployer or the channel admin).
 */
import { signedMessageJson } from "@chainmail/client";
import { Wallet } from "ethers";
import { createChannelWithMembers, deployRegistry, type DeployedRegistry } from "@chainmail/testkit";
import { devPrivateKey } from "@chainmail/testkit";
import { bodyFromText, randomNonce, signMessage, type RegistryLocation, type SignedMessage } from "@chainmail/protocol";
import { configFrom, type RelayerConfig } from "@chainmail/relayer";
import { startHardhatNode, type RunningNode } from "@chainmail/testkit";

export interface Fixture {
  node: RunningNode;
  deployed: DeployedRegistry;
  location: RegistryLocation;
  channel: string;
  authors: Wallet[];
  outsider: Wallet;
  admin: Wallet;
  deployer: Wallet;
  relayerKey: string;
  config(overrides?: Partial<RelayerConfig>): RelayerConfig;
  sign(author: Wallet, text: string, overrides?: Partial<SignedMessage>): Promise<SignedMessage>;
}

export const RELAYER_KEY_INDEX = 10;

/** `node` starts another chain node (a geth dev node) instead of Hardhat's. */
export async function startFixture({ blockTimeMs, node: start }: { blockTimeMs?: number; node?: () => Promise<RunningNode> } = {}): Promise<Fixture> {
  const node = start ? await start() : await startHardhatNode({ blockTimeMs });
  try {
    const deployer = new Wallet(devPrivateKey(0), node.provider);
    const admin = new Wallet(devPrivateKey(1), node.provider);
    const authors = [2, 3, 4, 5].map((i) => new Wallet(devPrivateKey(i), node.provider));
    const outsider = new Wallet(devPrivateKey(6), node.provider);
    const deployed = await deployRegistry(deployer);
    const channel = await createChannelWithMembers(deployed.registry, "general", admin, authors.map((a) => a.address));
    const location = { chainId: deployed.chainId, address: deployed.address };
    const relayerKey = devPrivateKey(RELAYER_KEY_INDEX);
    return {
      node,
      deployed,
      location,
      channel,
      authors,
      outsider,
      admin,
      deployer,
      relayerKey,
      config: (overrides = {}) =>
        configFrom({ rpcUrl: node.url, registryAddress: deployed.address, signerKeys: [relayerKey], receiptPollMs: 50, ...overrides }),
      sign: async (author, text, overrides = {}) => {
        const now = BigInt(Math.floor(Date.now() / 1000));
        const block = await node.provider.getBlock("latest");
        const timestamp = overrides.timestamp ?? (BigInt(block!.timestamp) > now ? BigInt(block!.timestamp) : now);
        return signMessage(author, location, {
          channel,
          author: author.address,
          body: bodyFromText(text),
          contentType: 1,
          replyTo: 0n,
          nonce: randomNonce(),
          ...overrides,
          timestamp,
        });
      },
    };
  } catch (error) {
    await node.stop();
    throw error;
  }
}

/** The JSON the API takes for a signed message (the SDK's own encoder). */
export const toJson = signedMessageJson;
