import { expect } from "chai";
import { Wallet } from "ethers";
import { collectLogs, readLogs, RpcClient, RpcError, type LogRetry } from "@chainmail/chain";
import { deployRegistry, devPrivateKey, startHardhatNode, type RunningNode } from "@chainmail/testkit";
import { fakeLog, type FakeNode, rejection, startFakeNode, strictQuantity } from "./fake-node.js";

/** A fake node with one log per block, over eth_getLogs only, parsing quantities as geth does. */
function logsPerBlock(refuse: (from: number, to: number) => ReturnType<Parameters<typeof startFakeNode>[0]> | null = () => null) {
  return (method: string, params: any[]) => {
    if (method !== "eth_getLogs") return { error: { code: -32601, message: `no ${method}` } };
    let from: number, to: number;
    try {
      from = strictQuantity(params[0].fromBlock);
      to = strictQuantity(params[0].toBlock);
    } catch (error) {
      return { error: { code: -32602, message: (error as Error).message } };
    }
    const refused = refuse(from, to);
    if (refused) return refused;
    // Out of order on purpose: the reader puts each chunk in chain order.
    return { result: Array.from({ length: to - from + 1 }, (_, i) => fakeLog(to - i)) };
  };
}

describe("chain: log reader against a hostile node", function () {
  let node: FakeNode | undefined;
  afterEach(async () => {
    await node?.close();
    node = undefined;
  });

  it("sends canonical block numbers (geth refuses 0x0100) and returns chunks in chain order", async function () {
    node = await startFakeNode(logsPerBlock());
    const chunks = [];
    for await (const chunk of readLogs(new RpcClient(node.url), {}, { fromBlock: 250, toBlock: 270, chunkBlocks: 8 })) chunks.push(chunk);
    expect(chunks.map((c) => [c.fromBlock, c.toBlock])).to.deep.equal([[250, 257], [258, 265], [266, 270]]);
    expect(chunks.flatMap((c) => c.logs.map((l) => l.blockNumber))).to.deep.equal(Array.from({ length: 21 }, (_, i) => 250 + i));
    expect(node.requests.map((r) => r.params[0].fromBlock)).to.deep.equal(["0xfa", "0x102", "0x10a"]);
  });

  it("halves the range while the node says it is too large, and keeps the smaller size", async function () {
    node = await startFakeNode(
      logsPerBlock((from, to) => (to - from + 1 > 10 ? { error: { code: -32005, message: "query returned more than 10000 results" } } : null)),
    );
    const retries: LogRetry[] = [];
    const logs = await collectLogs(new RpcClient(node.url), {}, { fromBlock: 0, toBlock: 99, chunkBlocks: 64, onRetry: (r) => retries.push(r) });
    expect(logs.map((l) => l.blockNumber)).to.deep.equal(Array.from({ length: 100 }, (_, i) => i));
    expect(retries.map((r) => [r.reason, r.chunkBlocks])).to.deep.equal([
      ["range-too-large", 32],
      ["range-too-large", 16],
      ["range-too-large", 8],
    ]);
    // 3 refusals, then ceil(100 / 8) = 13 accepted ranges: the halved size stays.
    expect(node.requests.length).to.equal(16);
    expect(node.requests.slice(3).every((r) => strictQuantity(r.params[0].toBlock) - strictQuantity(r.params[0].fromBlock) < 8)).to.equal(true);
  });

  it("understands other nodes' wording of the same refusal", async function () {
    for (const message of ["block range is too wide", "exceed maximum block range: 5", "Log response size exceeded. You can make eth_getLogs requests with up to a 2K block range"]) {
      const n = await startFakeNode(logsPerBlock((from, to) => (to - from + 1 > 5 ? { error: { code: -32000, message } } : null)));
      try {
        expect((await collectLogs(new RpcClient(n.url), {}, { fromBlock: 0, toBlock: 19, chunkBlocks: 20 })).length, message).to.equal(20);
      } finally {
        await n.close();
      }
    }
  });

  it("throws when even one block is too large", async function () {
    node = await startFakeNode(logsPerBlock(() => ({ error: { code: -32005, message: "query returned more than 10000 results" } })));
    const error = (await rejection(collectLogs(new RpcClient(node.url), {}, { fromBlock: 0, toBlock: 3, chunkBlocks: 4 }))) as RpcError;
    expect(error).to.be.instanceOf(RpcError);
    expect(error.rpcCode).to.equal(-32005);
    expect(node.requests.length).to.equal(3); // 4 blocks, 2, 1
  });

  it("halves the range when the node times out on it", async function () {
    node = await startFakeNode(logsPerBlock((from, to) => (to - from + 1 > 4 ? "hang" : null)));
    const retries: LogRetry[] = [];
    const logs = await collectLogs(new RpcClient(node.url, { timeoutMs: 200 }), {}, { fromBlock: 0, toBlock: 7, chunkBlocks: 8, retryDelayMs: 1, onRetry: (r) => retries.push(r) });
    expect(logs.length).to.equal(8);
    expect(retries.map((r) => [r.reason, r.chunkBlocks])).to.deep.equal([["transient", 4]]);
  });

  it("retries transient failures a bounded number of times, then throws", async function () {
    let failuresLeft = 2;
    node = await startFakeNode(logsPerBlock(() => (failuresLeft-- > 0 ? { status: 503 } : null)));
    expect((await collectLogs(new RpcClient(node.url), {}, { fromBlock: 0, toBlock: 9, chunkBlocks: 10, retryDelayMs: 1 })).length).to.equal(10);
    expect(node.requests.length).to.equal(3);
    await node.close();

    node = await startFakeNode(logsPerBlock(() => ({ status: 503 })));
    const error = (await rejection(collectLogs(new RpcClient(node.url), {}, { fromBlock: 0, toBlock: 9, retries: 3, retryDelayMs: 1 }))) as RpcError;
    expect(error.kind).to.equal("http");
    expect(error.status).to.equal(503);
    expect(node.requests.length).to.equal(4); // the first try and 3 retries
  });

  it("does not retry an error that another try cannot fix", async function () {
    node = await startFakeNode(() => ({ error: { code: -32602, message: "invalid argument 0: invalid address" } }));
    const error = (await rejection(collectLogs(new RpcClient(node.url), { address: "0xbad" }, { fromBlock: 0, toBlock: 9, retryDelayMs: 1 }))) as RpcError;
    expect(error.rpcCode).to.equal(-32602);
    expect(node.requests.length).to.equal(1);
  });

  it("passes on the node's `removed` flag and leaves it out when the node does not say", async function () {
    node = await startFakeNode(() => ({ result: [fakeLog(3, { removed: true }), fakeLog(4)] }));
    const logs = await collectLogs(new RpcClient(node.url), {}, { fromBlock: 3, toBlock: 4 });
    expect(logs[0].removed).to.equal(true);
    expect("removed" in logs[1]).to.equal(false);
    expect(logs[0]).to.include({ address: "0x5fbdb2315678afecb367f032d93f642f64180aa3", blockNumber: 3, index: 0 });
  });
});

describe("chain: log reader against a Hardhat node", function () {
  let node: RunningNode;
  before(async () => {
    node = await startHardhatNode();
  });
  after(async () => {
    await node?.stop();
  });

  it("reads exactly the logs the node holds, filtered by address and topic, chunk by chunk", async function () {
    const admin = new Wallet(devPrivateKey(0), node.provider);
    const { registry, address, deploymentBlock } = await deployRegistry(admin);
    for (let i = 1; i <= 5; i++) await (await registry.createChannel("0x" + i.toString(16).padStart(64, "0"), admin.address)).wait();
    const latest = await node.provider.getBlockNumber();
    const CHANNEL_CREATED_TOPIC = registry.interface.getEvent("ChannelCreated").topicHash;
    const expected = await node.provider.getLogs({ address, topics: [CHANNEL_CREATED_TOPIC], fromBlock: deploymentBlock, toBlock: latest });
    expect(expected.length).to.equal(5);
    const rpc = new RpcClient(node.url);
    const chunks = [];
    for await (const chunk of readLogs(rpc, { address, topics: [CHANNEL_CREATED_TOPIC] }, { fromBlock: deploymentBlock, toBlock: latest, chunkBlocks: 2 })) chunks.push(chunk);
    expect(chunks[0].fromBlock).to.equal(deploymentBlock);
    expect(chunks.at(-1)!.toBlock).to.equal(latest);
    for (let i = 1; i < chunks.length; i++) expect(chunks[i].fromBlock).to.equal(chunks[i - 1].toBlock + 1);
    const logs = chunks.flatMap((c) => c.logs);
    expect(logs.map((l) => ({ address: l.address.toLowerCase(), topics: [...l.topics], data: l.data, blockNumber: l.blockNumber, blockHash: l.blockHash, transactionHash: l.transactionHash, index: l.index }))).to.deep.equal(
      expected.map((l) => ({ address: l.address.toLowerCase(), topics: [...l.topics], data: l.data, blockNumber: l.blockNumber, blockHash: l.blockHash, transactionHash: l.transactionHash, index: l.index })),
    );
    expect(await collectLogs(rpc, { address: "0x" + "00".repeat(20) }, { fromBlock: 0, toBlock: latest })).to.deep.equal([]);
  });
});
