/**
 * The audit proves a channel's (seq, head) and the channel list with eth_getProof at the
 * storage slots that protocol/src/storage.ts computes. Those slots follow from
 * MessageRegistry's storage layout; this test asks the compiler for that layout
 * (`storageLayout` output, from the very input Hardhat compiled: its build-info) and
 * checks every assumption, so moving a variable, reordering the inheritance or
 * repacking the Channel struct fails here instead of making every audit report
 * PROOF_INVALID. A second test checks the slots against the storage a node really holds.
 */
import { createRequire } from "node:module";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { expect } from "chai";
import { network } from "hardhat";
import { CHANNEL_COUNT_SLOT, DEFAULT_LIMITS, REGISTRY_SLOTS, channelId, channelIdSlot, channelSlots, channelStateOf, toCallArgument, packBatch } from "@chainmail/protocol";
import { GENERAL, MessageFactory, registryLocation } from "./helpers/registry.js";

const require = createRequire(import.meta.url);
const SOURCE = "project/contracts/MessageRegistry.sol";

interface StorageEntry {
  label: string;
  slot: string;
  offset: number;
  type: string;
}
interface StorageLayout {
  storage: StorageEntry[];
  types: Record<string, { label: string; numberOfBytes: string; members?: StorageEntry[]; value?: string }>;
}

/** MessageRegistry's layout, compiled (analysis only: no code generation) from the input Hardhat last compiled it with. */
async function registryLayout(): Promise<StorageLayout> {
  // The artifact names its build-info; older build-info files may linger beside it.
  const artifact = JSON.parse(await readFile(path.resolve("artifacts/contracts/MessageRegistry.sol/MessageRegistry.json"), "utf8"));
  const info = JSON.parse(await readFile(path.resolve("artifacts/build-info", `${artifact.buildInfoId}.json`), "utf8"));
  expect(artifact.inputSourceName).to.equal(SOURCE);
  // The layout follows from the sources and the compiler; the code generation settings
  // (viaIR, optimizer) do not move storage, and leaving them out keeps this to analysis.
  const input = {
    language: info.input.language ?? "Solidity",
    sources: info.input.sources,
    settings: { remappings: info.input.settings.remappings, evmVersion: info.input.settings.evmVersion, outputSelection: { [SOURCE]: { MessageRegistry: ["storageLayout"] } } },
  };
  const solc = require("solc");
  const output = JSON.parse(solc.compile(JSON.stringify(input)));
  const errors = (output.errors ?? []).filter((e: { severity: string }) => e.severity === "error");
  expect(errors, JSON.stringify(errors)).to.deep.equal([]);
  return output.contracts[SOURCE].MessageRegistry.storageLayout;
}

describe("MessageRegistry storage layout (what the audit's proofs assume)", function () {
  let layout: StorageLayout;
  before(async function () {
    this.timeout(120_000);
    layout = await registryLayout();
  });

  const variable = (label: string) => {
    const entry = layout.storage.find((e) => e.label === label);
    expect(entry, `MessageRegistry has no storage variable ${label}; protocol/src/storage.ts relies on it`).to.not.equal(undefined);
    return entry!;
  };

  it("keeps _channels at REGISTRY_SLOTS.channels and _channelIds at REGISTRY_SLOTS.channelIds", function () {
    expect(BigInt(variable("_channels").slot)).to.equal(REGISTRY_SLOTS.channels);
    expect(variable("_channels").offset).to.equal(0);
    expect(BigInt(variable("_channelIds").slot)).to.equal(REGISTRY_SLOTS.channelIds);
    expect(layout.types[variable("_channelIds").type].label).to.equal("bytes32[]");
  });

  it("keeps AccessControl's _roles at slot 0, where postBatch's fast path reads membership (ROLES_SLOT)", function () {
    expect(BigInt(variable("_roles").slot)).to.equal(0n);
    expect(variable("_roles").offset).to.equal(0);
  });

  it("keeps the Channel struct as channelStateOf reads it: head in word 0; seq, exists, open packed in word 1", function () {
    const mapping = layout.types[variable("_channels").type];
    expect(mapping.label).to.match(/^mapping\(bytes32 => struct /);
    const struct = layout.types[mapping.value!];
    const members = Object.fromEntries(struct.members!.map((m) => [m.label, { slot: m.slot, offset: m.offset, type: layout.types[m.type].label }]));
    expect(members).to.deep.equal({
      head: { slot: "0", offset: 0, type: "bytes32" },
      seq: { slot: "1", offset: 0, type: "uint64" },
      exists: { slot: "1", offset: 8, type: "bool" },
      open: { slot: "1", offset: 9, type: "bool" },
    });
    expect(struct.numberOfBytes).to.equal("64");
  });

  it("matches the storage a node really holds for the channel list and channels (seq > 0, open and closed)", async function () {
    const { ethers, networkHelpers } = await network.create();
    const [admin, channelAdmin, alice] = await ethers.getSigners();
    const registry = await ethers.deployContract("MessageRegistry", [admin.address, DEFAULT_LIMITS]);
    const OTHER = channelId("other");
    await registry.createChannel(GENERAL, channelAdmin.address);
    await registry.createChannel(OTHER, channelAdmin.address);
    await registry.connect(channelAdmin).grantRole(await registry.memberRole(GENERAL), alice.address);
    const messages = new MessageFactory(await registryLocation(registry), async () => BigInt(await networkHelpers.time.latest()));
    await registry.postBatch(packBatch([toCallArgument(await messages.sign(alice)), toCallArgument(await messages.sign(alice)), toCallArgument(await messages.sign(alice))]));
    await registry.connect(channelAdmin).closeChannel(OTHER);
    const address = await registry.getAddress();
    const at = (slot: string) => ethers.provider.getStorage(address, slot);
    expect(BigInt(await at(CHANNEL_COUNT_SLOT))).to.equal(2n);
    for (const [i, channel] of [GENERAL, OTHER].entries()) {
      expect((await at(channelIdSlot(i))).toLowerCase()).to.equal(channel.toLowerCase());
      const s = channelSlots(channel);
      const info = await registry.channelInfo(channel);
      expect(channelStateOf(await at(s.head), await at(s.state))).to.deep.equal({ head: info.head.toLowerCase(), seq: info.seq, exists: info.exists, open: info.open });
    }
    expect((await registry.channelInfo(GENERAL)).seq).to.equal(3n);
    expect((await registry.channelInfo(OTHER)).open).to.equal(false);
  });
});
