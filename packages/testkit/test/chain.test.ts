import { expect } from "chai";
import { Wallet } from "ethers";
import { createChannelWithMembers, deployRegistry } from "@chainmail/testkit";
import { devPrivateKey } from "@chainmail/testkit";
import {
  bodyFromText,
  decodeMessagePosted,
  MESSAGE_POSTED_TOPIC,
  randomNonce,
  signMessage,
  toCallArgument,
  packBatch,
} from "@chainmail/protocol";
import { startHardhatNode, type RunningNode } from "@chainmail/testkit";

describe("a registry on a real hardhat node", function () {
  let node: RunningNode;
  before(async function () {
    node = await startHardhatNode();
  });
  after(async function () {
    await node?.stop();
  });

  it("deploys, creates a channel and posts a signed message over JSON-RPC", async function () {
    const deployer = new Wallet(devPrivateKey(0), node.provider);
    const admin = new Wallet(devPrivateKey(1), node.provider);
    const author = new Wallet(devPrivateKey(2), node.provider);
    const { registry, address, chainId } = await deployRegistry(deployer);
    const channel = await createChannelWithMembers(registry, "general", admin, [author.address]);
    const block = await node.provider.getBlock("latest");
    const signed = await signMessage(author, { chainId, address }, {
      channel,
      author: author.address,
      body: bodyFromText("hello over JSON-RPC"),
      contentType: 1,
      timestamp: BigInt(block!.timestamp),
      replyTo: 0n,
      nonce: randomNonce(),
    });
    const receipt = await (await registry.postBatch(packBatch([signed]))).wait();
    const log = receipt!.logs.find((l) => l.topics[0] === MESSAGE_POSTED_TOPIC)!;
    const posted = decodeMessagePosted({ chainId, address }, log);
    expect(posted.seq).to.equal(1n);
    expect((await registry.channelInfo(channel)).head).to.equal(posted.head);
  });
});
