import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/types";
import type { MessageRegistry } from "../../typechain-types/index.js";
import {
  bodyFromText,
  channelId,
  signMessage,
  type Message,
  type RegistryLocation,
  type SignedMessage,
} from "@chainmail/protocol";

export const GENERAL = channelId("general");

/** Signs messages for one registry, with a fresh nonce per message unless told. */
export class MessageFactory {
  private nextNonce = 1n;

  constructor(
    readonly registry: RegistryLocation,
    private readonly now: () => Promise<bigint>,
  ) {}

  async sign(author: HardhatEthersSigner, overrides: Partial<Message> = {}): Promise<SignedMessage> {
    const message: Message = {
      channel: GENERAL,
      author: author.address,
      body: bodyFromText("hello"),
      contentType: 1,
      timestamp: await this.now(),
      replyTo: 0n,
      nonce: this.nextNonce++,
      ...overrides,
    };
    return signMessage(author, this.registry, message);
  }
}

export async function registryLocation(registry: MessageRegistry): Promise<RegistryLocation> {
  const net = await registry.runner!.provider!.getNetwork();
  return { chainId: net.chainId, address: await registry.getAddress() };
}
