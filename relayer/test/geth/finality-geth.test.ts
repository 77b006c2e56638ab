/**
 * Finality on geth --dev, as the mirror resolves it: "auto" picks the latest block
 * there (a dev chain never reorganises, and its finalized block only moves in 32-block
 * steps, so Kafka lagged up to 32 blocks and, with blocks on demand, an idle chain's tail
 * was never published); "finalized" asked explicitly still means geth's finalized block.
 */
import { expect } from "chai";
import { detectClient, FinalityResolver, RpcClient } from "@chainmail/chain";
import { startGethNode, type RunningGeth } from "@chainmail/testkit";

describe("finality defaults on geth --dev", function () {
  this.timeout(120_000);
  let node: RunningGeth;
  let rpc: RpcClient;
  before(async function () {
    // Past the first 32-block step, so that finalized and latest differ.
    node = await startGethNode({ blockTimeMs: 1000, minBlocks: 40 });
    rpc = new RpcClient(node.url);
  });
  after(async function () {
    await node?.stop();
  });

  it("detects geth --dev", async function () {
    const client = await detectClient(rpc);
    expect(client.name).to.equal("geth");
    expect(client.dev).to.equal(true);
    expect(client.version).to.match(/^Geth\/v1\.17\.10/);
  });

  it('"auto" follows the latest block there and says why', async function () {
    const resolver = new FinalityResolver(rpc, "auto", 0);
    const latest = (await rpc.block("latest"))!;
    const tip = await resolver.safeTip(latest);
    expect(tip?.number).to.equal(latest.number);
    expect(resolver.inUse).to.match(/^latest - 0 \(geth --dev/);
  });

  it('"finalized" asked explicitly is geth\'s: a multiple of 32, behind the head', async function () {
    const resolver = new FinalityResolver(rpc, "finalized", 0);
    const latest = (await rpc.block("latest"))!;
    const tip = await resolver.safeTip(latest);
    expect(tip!.number % 32).to.equal(0);
    expect(tip!.number).to.be.lessThan(latest.number);
  });
});
