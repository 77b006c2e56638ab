import { expect } from "chai";
import { FinalityResolver, RpcClient, toQuantity } from "@chainmail/chain";
import { startFakeNode, strictQuantity, type FakeNode } from "./fake-node.js";

/** A fake node at block 100 that knows the tags in `tags` (tag -> block number, or null for "none yet"). */
function chainAt100(tags: Record<string, number | null>) {
  return (method: string, params: any[]) => {
    if (method !== "eth_getBlockByNumber") return { error: { code: -32601, message: `no ${method}` } };
    const tag = params[0] as string;
    const number = tag === "latest" ? 100 : tag in tags ? tags[tag] : tag.startsWith("0x") ? strictQuantity(tag) : undefined;
    if (number === undefined) return { error: { code: -32602, message: `invalid block tag ${tag}` } };
    if (number === null || number > 100) return { result: null };
    return { result: { number: toQuantity(number), hash: "0x" + number.toString(16).padStart(64, "0"), timestamp: toQuantity(1_000 + number) } };
  };
}

describe("chain: finality", function () {
  let node: FakeNode | undefined;
  afterEach(async () => {
    await node?.close();
    node = undefined;
  });

  async function tip(tags: Record<string, number | null>, finality: "auto" | "finalized" | "safe" | "latest", confirmations = 0) {
    node = await startFakeNode(chainAt100(tags));
    const rpc = new RpcClient(node.url);
    const resolver = new FinalityResolver(rpc, finality, confirmations);
    const block = await resolver.safeTip((await rpc.block("latest"))!);
    const used = resolver.inUse;
    await node.close();
    node = undefined;
    return { number: block?.number ?? null, used };
  }

  it("auto prefers finalized, then safe, then latest minus the depth", async function () {
    expect(await tip({ finalized: 64, safe: 96 }, "auto")).to.deep.equal({ number: 64, used: "finalized" });
    expect(await tip({ safe: 96 }, "auto")).to.deep.equal({ number: 96, used: "safe" });
    expect(await tip({ finalized: null, safe: 96 }, "auto")).to.deep.equal({ number: 96, used: "safe" });
    expect(await tip({}, "auto", 5)).to.deep.equal({ number: 95, used: "latest - 5" });
  });

  it("tip() asks for the latest block only while the rule needs it: once finalized is settled, one request a look", async function () {
    const asked: string[] = [];
    const answer = chainAt100({ finalized: 64 });
    node = await startFakeNode((method: string, params: any[]) => {
      asked.push(`${method} ${params[0]}`);
      return answer(method, params);
    });
    const resolver = new FinalityResolver(new RpcClient(node.url), "auto", 0);
    expect((await resolver.tip())?.number).to.equal(64);
    asked.length = 0;
    expect((await resolver.tip())?.number).to.equal(64);
    expect(asked).to.deep.equal(["eth_getBlockByNumber finalized"]);
    const deep = new FinalityResolver(new RpcClient(node.url), "latest", 3);
    asked.length = 0;
    expect((await deep.tip())?.number).to.equal(97);
    expect(asked).to.deep.equal(["eth_getBlockByNumber latest", "eth_getBlockByNumber 0x61"]);
  });

  it("an explicit mode is used as given; a node without the tag is an error", async function () {
    expect(await tip({ finalized: 64, safe: 96 }, "safe")).to.deep.equal({ number: 96, used: "safe" });
    expect(await tip({ finalized: 64 }, "latest", 0)).to.deep.equal({ number: 100, used: "latest - 0" });
    expect(await tip({ finalized: null }, "finalized")).to.deep.equal({ number: null, used: "finalized" });
    let failed = false;
    await tip({}, "finalized").catch(() => (failed = true));
    expect(failed).to.equal(true);
  });
});
