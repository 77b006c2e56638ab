import { expect } from "chai";
import { Wallet } from "ethers";
import { createProvider, isRangeTooLarge, isTransient, RpcClient, RpcError, toBlockTag, toQuantity } from "@chainmail/chain";
import { deployRegistry, devPrivateKey, startHardhatNode, type RunningNode } from "@chainmail/testkit";
import { type FakeNode, rejection, startFakeNode } from "./fake-node.js";

describe("chain: quantities", function () {
  it("are canonical hex: no leading zeros, so geth accepts them", function () {
    expect(toQuantity(0)).to.equal("0x0");
    expect(toQuantity(15)).to.equal("0xf");
    expect(toQuantity(256)).to.equal("0x100");
    expect(toQuantity(65536n)).to.equal("0x10000");
    expect(toBlockTag(4095)).to.equal("0xfff");
    expect(toBlockTag("finalized")).to.equal("finalized");
    expect(() => toQuantity(-1)).to.throw(RangeError);
    expect(() => toQuantity(1.5)).to.throw(RangeError);
  });
});

describe("chain: RpcClient against a hostile node", function () {
  let node: FakeNode | undefined;
  afterEach(async () => {
    await node?.close();
    node = undefined;
  });

  it("gives up on a node that never answers after its timeout, as an RpcError of kind timeout", async function () {
    node = await startFakeNode(() => "hang");
    const rpc = new RpcClient(node.url, { timeoutMs: 200 });
    const startedAt = Date.now();
    const error = await rejection(rpc.call("eth_blockNumber", []));
    expect(error).to.be.instanceOf(RpcError);
    expect((error as RpcError).kind).to.equal("timeout");
    expect((error as RpcError).method).to.equal("eth_blockNumber");
    expect((error as RpcError).cause).to.not.equal(undefined);
    expect(Date.now() - startedAt).to.be.lessThan(5_000);
    expect(isTransient(error)).to.equal(true);
    // A per-call timeout overrides the client's.
    const perCall = await rejection(new RpcClient(node.url, { timeoutMs: 60_000 }).call("eth_chainId", [], { timeoutMs: 100 }));
    expect((perCall as RpcError).kind).to.equal("timeout");
  });

  it("carries the node's error object: code, message, data", async function () {
    node = await startFakeNode(() => ({ error: { code: -32000, message: "execution reverted", data: "0x08c379a0" } }));
    const error = (await rejection(new RpcClient(node.url).call("eth_call", [{}, "latest"]))) as RpcError;
    expect(error).to.be.instanceOf(RpcError);
    expect(error.kind).to.equal("rpc");
    expect(error.rpcCode).to.equal(-32000);
    expect(error.code).to.equal("RpcError");
    expect(error.message).to.equal("execution reverted");
    expect(error.data).to.equal("0x08c379a0");
    expect(isTransient(error)).to.equal(false);
    expect(isRangeTooLarge(error)).to.equal(false);
  });

  it("reports HTTP failures and unreachable nodes as transient, with the status or cause", async function () {
    node = await startFakeNode(() => ({ status: 503, body: "overloaded" }));
    const http = (await rejection(new RpcClient(node.url).call("eth_blockNumber", []))) as RpcError;
    expect(http.kind).to.equal("http");
    expect(http.status).to.equal(503);
    expect(isTransient(http)).to.equal(true);
    const url = node.url;
    await node.close();
    node = undefined;
    const down = (await rejection(new RpcClient(url).call("eth_blockNumber", []))) as RpcError;
    expect(down.kind).to.equal("network");
    expect(down.cause).to.not.equal(undefined);
    expect(isTransient(down)).to.equal(true);
  });

  it("tries a call once more when the node resets the connection before answering, not twice", async function () {
    let resets = 1;
    node = await startFakeNode(() => (resets-- > 0 ? "reset" : { result: "0x2a" }));
    expect(await new RpcClient(node.url).blockNumber()).to.equal(42);
    expect(node.requests).to.have.length(2);
    resets = 2;
    const twice = (await rejection(new RpcClient(node.url).call("eth_blockNumber", []))) as RpcError;
    expect(twice.kind).to.equal("network");
    resets = 1;
    const provider = createProvider(new RpcClient(node.url), { chainId: 31337n, batchMaxCount: 1 });
    try {
      expect(await provider.getBlockNumber()).to.equal(42);
    } finally {
      provider.destroy();
    }
  });

  it("builds ethers providers with the client's URL and timeout", async function () {
    node = await startFakeNode(() => "hang");
    const provider = createProvider(new RpcClient(node.url, { timeoutMs: 300 }), { chainId: 31337n });
    try {
      const startedAt = Date.now();
      const error = await rejection(provider.getBlockNumber());
      expect((error as { code?: string }).code).to.equal("TIMEOUT");
      expect(Date.now() - startedAt).to.be.lessThan(5_000);
    } finally {
      provider.destroy();
    }
  });
});

describe("chain: RpcClient against a Hardhat node", function () {
  let node: RunningNode;
  before(async () => {
    node = await startHardhatNode();
  });
  after(async () => {
    await node?.stop();
  });

  it("reads the chain id, blocks and a receipt with its logs", async function () {
    const rpc = new RpcClient(node.url);
    expect(await rpc.chainId()).to.equal(31337n);
    const { registry, address } = await deployRegistry(new Wallet(devPrivateKey(0), node.provider));
    const tx = await registry.createChannel("0x" + "ab".repeat(32), new Wallet(devPrivateKey(1)).address);
    const mined = (await tx.wait())!;
    const receipt = (await rpc.receipt(tx.hash))!;
    expect(receipt.status).to.equal(1);
    expect(receipt.blockNumber).to.equal(mined.blockNumber);
    expect(receipt.gasUsed).to.equal(mined.gasUsed);
    expect(receipt.logs.map((l) => [l.address.toLowerCase(), l.blockHash, l.index, l.topics[0]])).to.deep.equal(
      mined.logs.map((l) => [address.toLowerCase(), mined.blockHash, l.index, l.topics[0]]),
    );
    const block = (await rpc.block(mined.blockNumber))!;
    expect(block.hash).to.equal(mined.blockHash.toLowerCase());
    expect(await rpc.blockNumber()).to.equal(mined.blockNumber);
    expect(await rpc.block(mined.blockNumber + 1000)).to.equal(null);
    expect(await rpc.receipt("0x" + "00".repeat(32))).to.equal(null);
  });
});
