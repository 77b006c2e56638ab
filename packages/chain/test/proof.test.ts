/**
 * The proof code against a real node's answers (hardhat node over JSON-RPC): header
 * hashes recomputed from real headers, eth_getProof answers walked, a receipts trie
 * rebuilt from a real block's receipts of several transaction types; and each of them
 * refusing forgeries (a changed field, a forged or extra or missing node, a lying value).
 */
import { expect } from "chai";
import { decodeRlp, encodeRlp, keccak256, Wallet, ZeroAddress } from "ethers";
import {
  blockReceipts,
  checkHeader,
  encodeReceipt,
  headerHash,
  MerkleTrie,
  ProofError,
  receiptKey,
  receiptsTrie,
  RpcClient,
  verifyAccountStorage,
  verifyMptProof,
  type RawAccountProof,
  type RawHeader,
  type RawReceiptForTrie,
} from "@chainmail/chain";
import { CHANNEL_COUNT_SLOT, channelIdSlot, channelSlots } from "@chainmail/protocol";
import { createChannelWithMembers, deployRegistry, devPrivateKey, startHardhatNode, type RunningNode } from "@chainmail/testkit";

/** Runs `f` and returns the ProofError's code it throws (fails the test if it throws nothing or something else). */
function refusal(f: () => unknown): string {
  try {
    f();
  } catch (error) {
    expect(error, String(error)).to.be.instanceOf(ProofError);
    return (error as ProofError).code;
  }
  expect.fail("the forgery was accepted");
}

/** One hex character of `hex` at `at` (counted after 0x) changed. */
function flip(hex: string, at = 10): string {
  const i = 2 + at;
  return hex.slice(0, i) + (hex[i] === "0" ? "1" : "0") + hex.slice(i + 1);
}

describe("chain: proofs against a real node", function () {
  let node: RunningNode;
  let rpc: RpcClient;
  let registry: string;
  let channel: string;
  let busyBlock: number;

  before(async function () {
    node = await startHardhatNode();
    rpc = new RpcClient(node.url);
    const deployer = new Wallet(devPrivateKey(0), node.provider);
    const deployed = await deployRegistry(deployer);
    registry = deployed.address;
    channel = await createChannelWithMembers(deployed.registry, "general", new Wallet(devPrivateKey(1), node.provider), [new Wallet(devPrivateKey(2)).address]);

    // One block holding many transactions of every type the node takes (legacy, EIP-2930,
    // EIP-1559, EIP-7702): enough receipts for branch, extension and embedded nodes.
    await node.provider.send("evm_setAutomine", [false]);
    const senders = [3, 4, 5, 6].map((i) => new Wallet(devPrivateKey(i), node.provider));
    const authority = new Wallet(devPrivateKey(7));
    const sent = [];
    for (let round = 0; round < 5; round++) {
      for (const [k, sender] of senders.entries()) {
        const nonce = round;
        const to = Wallet.createRandom().address;
        if (k === 0) sent.push(await sender.sendTransaction({ type: 0, to, value: 1n, nonce, gasPrice: 2_000_000_000n, gasLimit: 21_000n }));
        if (k === 1) sent.push(await sender.sendTransaction({ type: 1, to, value: 1n, nonce, gasPrice: 2_000_000_000n, gasLimit: 30_000n, accessList: [{ address: registry, storageKeys: [CHANNEL_COUNT_SLOT] }] }));
        if (k === 2) sent.push(await sender.sendTransaction({ type: 2, to, value: 1n, nonce, maxFeePerGas: 2_000_000_000n, maxPriorityFeePerGas: 1n, gasLimit: 21_000n }));
        if (k === 3) {
          // Another account delegates (to nothing), so the sender's own nonces stay in step.
          const authorization = await authority.authorize({ address: ZeroAddress, nonce: round, chainId: 31337n });
          sent.push(await sender.sendTransaction({ type: 4, to, value: 1n, nonce, maxFeePerGas: 2_000_000_000n, maxPriorityFeePerGas: 1n, gasLimit: 60_000n, authorizationList: [authorization] }));
        }
      }
    }
    await node.provider.send("evm_mine", []);
    await node.provider.send("evm_setAutomine", [true]);
    const receipt = await rpc.call<{ blockNumber: string }>("eth_getTransactionReceipt", [sent[0].hash]);
    busyBlock = Number(receipt.blockNumber);
  });
  after(async () => node?.stop());

  describe("headers", function () {
    it("recomputes the hash of real headers (genesis, a block with a deployment, a block of 20 transactions)", async function () {
      for (const n of [0, 1, busyBlock]) {
        const header = (await rpc.header(n))!;
        expect(headerHash(header)).to.equal(header.hash.toLowerCase());
        checkHeader(header);
      }
    });

    it("refuses a header with any one hashed field changed, or a claimed hash that is not its own", async function () {
      const header = (await rpc.header(busyBlock))!;
      for (const name of ["parentHash", "stateRoot", "receiptsRoot", "transactionsRoot", "logsBloom", "mixHash"] as const) {
        expect(refusal(() => checkHeader({ ...header, [name]: flip(header[name]!) })), name).to.equal("HeaderHashMismatch");
      }
      expect(refusal(() => checkHeader({ ...header, timestamp: "0x" + (BigInt(header.timestamp) + 1n).toString(16) }))).to.equal("HeaderHashMismatch");
      expect(refusal(() => checkHeader({ ...header, hash: flip(header.hash) }))).to.equal("HeaderHashMismatch");
      const { baseFeePerGas: _dropped, ...withoutBaseFee } = header;
      expect(refusal(() => checkHeader(withoutBaseFee as RawHeader))).to.equal("HeaderMalformed");
    });
  });

  describe("eth_getProof (account and storage proofs)", function () {
    const slots = () => [CHANNEL_COUNT_SLOT, channelIdSlot(0), channelSlots(channel).head, channelSlots(channel).state];

    async function realProof(): Promise<{ header: RawHeader; answer: RawAccountProof }> {
      const header = (await rpc.header("latest"))!;
      return { header, answer: await rpc.proof(registry, slots(), Number(header.number)) };
    }

    it("accepts a real answer, and proves the values eth_getStorageAt gives", async function () {
      const { header, answer } = await realProof();
      const proven = verifyAccountStorage(header.stateRoot, registry, answer, slots());
      for (const slot of slots()) {
        const stored = await rpc.call<string>("eth_getStorageAt", [registry, slot, header.number]);
        expect(BigInt(proven.slots.get(slot)!)).to.equal(BigInt(stored));
      }
      expect(BigInt(proven.slots.get(CHANNEL_COUNT_SLOT)!)).to.equal(1n);
      expect(proven.slots.get(channelIdSlot(0))).to.equal(channel.toLowerCase());
    });

    it("proves an unused slot empty (zero) rather than taking the node's word", async function () {
      const header = (await rpc.header("latest"))!;
      const unused = channelIdSlot(5);
      const answer = await rpc.proof(registry, [unused], Number(header.number));
      expect(verifyAccountStorage(header.stateRoot, registry, answer, [unused]).slots.get(unused)).to.equal("0x" + "00".repeat(32));
      answer.storageProof[0].value = "0x1";
      expect(refusal(() => verifyAccountStorage(header.stateRoot, registry, answer, [unused]))).to.equal("ProofValueMismatch");
    });

    it("refuses a forged node anywhere, an extra node, a missing node, a lying value or storage root, another state root", async function () {
      const { header, answer } = await realProof();
      const fresh = () => structuredClone(answer);
      for (let i = 0; i < answer.accountProof.length; i++) {
        const forged = fresh();
        forged.accountProof[i] = flip(forged.accountProof[i], 40);
        expect(refusal(() => verifyAccountStorage(header.stateRoot, registry, forged, slots())), `account node ${i}`).to.equal("ProofNodeMismatch");
      }
      for (let i = 0; i < answer.storageProof[3].proof.length; i++) {
        const forged = fresh();
        forged.storageProof[3].proof[i] = flip(forged.storageProof[3].proof[i], 40);
        expect(refusal(() => verifyAccountStorage(header.stateRoot, registry, forged, slots())), `storage node ${i}`).to.equal("ProofNodeMismatch");
      }
      const extra = fresh();
      extra.storageProof[0].proof.push(extra.storageProof[0].proof[0]);
      expect(refusal(() => verifyAccountStorage(header.stateRoot, registry, extra, slots()))).to.equal("ProofMalformed");
      const missing = fresh();
      missing.accountProof.pop();
      expect(refusal(() => verifyAccountStorage(header.stateRoot, registry, missing, slots()))).to.equal("ProofIncomplete");
      const lyingValue = fresh();
      lyingValue.storageProof[3].value = "0x" + (BigInt(lyingValue.storageProof[3].value) + 1n).toString(16);
      expect(refusal(() => verifyAccountStorage(header.stateRoot, registry, lyingValue, slots()))).to.equal("ProofValueMismatch");
      const lyingRoot = fresh();
      lyingRoot.storageHash = flip(lyingRoot.storageHash);
      expect(refusal(() => verifyAccountStorage(header.stateRoot, registry, lyingRoot, slots()))).to.equal("ProofValueMismatch");
      const older = (await rpc.header(1))!;
      expect(refusal(() => verifyAccountStorage(older.stateRoot, registry, fresh(), slots()))).to.equal("ProofNodeMismatch");
      const noSlot = fresh();
      noSlot.storageProof.pop();
      expect(refusal(() => verifyAccountStorage(header.stateRoot, registry, noSlot, slots()))).to.equal("ProofIncomplete");
    });
  });

  describe("receipts trie", function () {
    async function receiptsOf(n: number): Promise<{ header: RawHeader; receipts: RawReceiptForTrie[] }> {
      const header = (await rpc.header(n))!;
      return { header, receipts: await blockReceipts(rpc, header) };
    }

    it("rebuilds a real block's receiptsRoot from its receipts (types 0, 1, 2 and 4), and each receipt's proof verifies", async function () {
      const { header, receipts } = await receiptsOf(busyBlock);
      expect(receipts.length).to.equal(20);
      expect(new Set(receipts.map((r) => Number(r.type)))).to.deep.equal(new Set([0, 1, 2, 4]));
      const trie = receiptsTrie(receipts);
      expect(trie.root).to.equal(header.receiptsRoot.toLowerCase());
      receipts.forEach((r, i) => {
        expect(verifyMptProof(header.receiptsRoot, receiptKey(i), trie.proof(receiptKey(i)), `receipt ${i}`)).to.equal(encodeReceipt(r));
      });
      for (const n of [1, 2]) {
        const one = await receiptsOf(n);
        expect(receiptsTrie(one.receipts).root, `block ${n}`).to.equal(one.header.receiptsRoot.toLowerCase());
      }
    });

    it("refuses a changed receipt, a forged or extra proof node, and another receipt's proof", async function () {
      const { header, receipts } = await receiptsOf(busyBlock);
      const trie = receiptsTrie(receipts);
      const proof = trie.proof(receiptKey(7));
      const proven = verifyMptProof(header.receiptsRoot, receiptKey(7), proof, "receipt 7");
      expect(proven).to.equal(encodeReceipt(receipts[7]));
      expect(encodeReceipt({ ...receipts[7], cumulativeGasUsed: "0x" + (BigInt(receipts[7].cumulativeGasUsed) + 1n).toString(16) })).to.not.equal(proven);
      expect(encodeReceipt({ ...receipts[7], status: "0x0" })).to.not.equal(proven);
      expect(encodeReceipt({ ...receipts[7], type: Number(receipts[7].type) === 3 ? "0x2" : "0x3" })).to.not.equal(proven);
      for (let i = 0; i < proof.length; i++) {
        const forged = [...proof];
        forged[i] = flip(forged[i], 20);
        expect(refusal(() => verifyMptProof(header.receiptsRoot, receiptKey(7), forged, "receipt 7")), `node ${i}`).to.equal("ProofNodeMismatch");
      }
      expect(refusal(() => verifyMptProof(header.receiptsRoot, receiptKey(7), [...proof, proof[0]], "receipt 7"))).to.equal("ProofMalformed");
      // Receipt 8's proof cannot stand in for receipt 7's: the walk for key 7 leaves its path.
      expect(refusal(() => verifyMptProof(header.receiptsRoot, receiptKey(7), trie.proof(receiptKey(8)), "receipt 7"))).to.equal("ProofNodeMismatch");
      // A key past the last receipt: the proof shows it absent.
      expect(verifyMptProof(header.receiptsRoot, receiptKey(20), trie.proof(receiptKey(20)), "receipt 20")).to.equal(null);
    });

    it("builds the known roots of the empty trie and of a one-entry trie", function () {
      expect(new MerkleTrie([]).root).to.equal(keccak256(encodeRlp("0x")));
      const one = new MerkleTrie([{ key: receiptKey(0), value: "0xc0" }]);
      expect(decodeRlp(one.proof(receiptKey(0))[0])).to.deep.equal(["0x2080", "0xc0"]);
    });
  });
});
