import { expect } from "chai";
import { network } from "hardhat";
import { MaxUint256, ZeroAddress, ZeroHash, hexlify, randomBytes } from "ethers";
import {
  Reason,
  DEFAULT_LIMITS,
  bodyFromText,
  channelId,
  digestOf,
  nextHead,
  decodeMessagePosted,
  MESSAGE_POSTED_TOPIC,
  adminRoleOf,
  memberRoleOf,
  toCallArgument,
  packBatch,
  minimalLength,
  signMessage,
  channelSlots,
  channelIdSlot,
  channelStateOf,
  CHANNEL_COUNT_SLOT,
  CHANNEL_PAGE_SIZE,
  allChannelIds,
  type SignedMessage,
} from "@chainmail/protocol";
import { GENERAL, MessageFactory, registryLocation } from "./helpers/registry.js";

const { ethers, networkHelpers } = await network.create();

async function deployFixture() {
  const [admin, channelAdmin, alice, bob, mallory, relayer] = await ethers.getSigners();
  const registry = await ethers.deployContract("MessageRegistry", [admin.address, DEFAULT_LIMITS]);
  await registry.createChannel(GENERAL, channelAdmin.address);
  const member = await registry.memberRole(GENERAL);
  await registry.connect(channelAdmin).grantRole(member, alice.address);
  await registry.connect(channelAdmin).grantRole(member, bob.address);
  const location = await registryLocation(registry);
  const messages = new MessageFactory(location, async () => BigInt(await networkHelpers.time.latest()));
  return { registry, location, messages, admin, channelAdmin, alice, bob, mallory, relayer };
}

describe("MessageRegistry", function () {
  describe("deployment", function () {
    it("starts with the admin, the limits, the default content types and its block", async function () {
      const { registry, admin } = await networkHelpers.loadFixture(deployFixture);
      expect(await registry.hasRole(ZeroHash, admin.address)).to.equal(true);
      const limits = await registry.limits();
      expect([limits.maxBodyBytes, limits.maxAge, limits.maxFutureSkew]).to.deep.equal([4096n, 3600n, 300n]);
      for (const type of [1, 2, 3]) expect(await registry.isContentTypeKnown(type)).to.equal(true);
      expect(await registry.isContentTypeKnown(0)).to.equal(false);
      expect(await registry.deploymentBlock()).to.be.greaterThan(0n);
    });

    it("refuses a zero admin and zero limits", async function () {
      const [admin] = await ethers.getSigners();
      const factory = await ethers.getContractFactory("MessageRegistry");
      await expect(ethers.deployContract("MessageRegistry", [ZeroAddress, DEFAULT_LIMITS])).to.be.revertedWithCustomError(
        factory,
        "InvalidAdmin",
      );
      await expect(
        ethers.deployContract("MessageRegistry", [admin.address, { ...DEFAULT_LIMITS, maxAge: 0 }]),
      ).to.be.revertedWithCustomError(factory, "InvalidLimits");
      await expect(
        ethers.deployContract("MessageRegistry", [admin.address, { ...DEFAULT_LIMITS, maxBodyBytes: 0 }]),
      ).to.be.revertedWithCustomError(factory, "InvalidLimits");
    });
  });

  describe("channels and roles", function () {
    it("creates a channel with its own admin and member roles", async function () {
      const { registry, channelAdmin } = await networkHelpers.loadFixture(deployFixture);
      const id = channelId("ops");
      await expect(registry.createChannel(id, channelAdmin.address))
        .to.emit(registry, "ChannelCreated")
        .withArgs(id, channelAdmin.address)
        .and.to.emit(registry, "RoleGranted")
        .withArgs(adminRoleOf(id), channelAdmin.address, await ethers.provider.getSigner(0).then((s) => s.address));
      expect(await registry.memberRole(id)).to.equal(memberRoleOf(id));
      expect(await registry.adminRole(id)).to.equal(adminRoleOf(id));
      expect(await registry.getRoleAdmin(memberRoleOf(id))).to.equal(adminRoleOf(id));
      expect(await registry.getRoleAdmin(adminRoleOf(id))).to.equal(ZeroHash);
      expect(await registry.channelCount()).to.equal(2n);
      expect(await registry.channels(0, 10)).to.deep.equal([GENERAL, id]);
      const info = await registry.channelInfo(id);
      expect([info.exists, info.open, info.seq, info.head]).to.deep.equal([true, true, 0n, ZeroHash]);
    });

    it("lists channels page by page, with any offset and limit", async function () {
      const { registry, channelAdmin } = await networkHelpers.loadFixture(deployFixture);
      const ids = [GENERAL];
      for (let i = 0; i < 6; i++) {
        ids.push(channelId(`team-${i}`));
        await registry.createChannel(ids.at(-1)!, channelAdmin.address);
      }
      expect(await registry.channelCount()).to.equal(7n);
      expect(await registry.channels(0, 3)).to.deep.equal(ids.slice(0, 3));
      expect(await registry.channels(3, 3)).to.deep.equal(ids.slice(3, 6));
      expect(await registry.channels(6, 3)).to.deep.equal(ids.slice(6));
      expect(await registry.channels(7, 3)).to.deep.equal([]);
      expect(await registry.channels(2, 0)).to.deep.equal([]);
      expect(await registry.channels(5, MaxUint256)).to.deep.equal(ids.slice(5));
      expect(await registry.channels(MaxUint256, MaxUint256)).to.deep.equal([]);
      expect(await allChannelIds(registry, undefined, 2)).to.deep.equal(ids);
    });

    it("reads a page of 1,000 channels far below a node's eth_call gas cap", async function () {
      const { registry, channelAdmin } = await networkHelpers.loadFixture(deployFixture);
      for (let i = 0; i < CHANNEL_PAGE_SIZE; i++) await registry.createChannel(channelId(`c${i}`), channelAdmin.address);
      const gas = await registry.channels.estimateGas(0, CHANNEL_PAGE_SIZE);
      // Hardhat's and geth's default eth_call cap is 50M gas; a page must stay well within it.
      expect(gas).to.be.lessThan(5_000_000n);
      expect(await allChannelIds(registry)).to.have.length(CHANNEL_PAGE_SIZE + 1);
    });

    it("lets only the registry admin create channels, once, with a real id and admin", async function () {
      const { registry, alice, channelAdmin } = await networkHelpers.loadFixture(deployFixture);
      await expect(registry.connect(alice).createChannel(channelId("x"), alice.address)).to.be.revertedWithCustomError(
        registry,
        "AccessControlUnauthorizedAccount",
      );
      await expect(registry.createChannel(GENERAL, channelAdmin.address))
        .to.be.revertedWithCustomError(registry, "ChannelAlreadyExists")
        .withArgs(GENERAL);
      await expect(registry.createChannel(ZeroHash, channelAdmin.address)).to.be.revertedWithCustomError(
        registry,
        "InvalidChannelId",
      );
      await expect(registry.createChannel(channelId("x"), ZeroAddress)).to.be.revertedWithCustomError(
        registry,
        "InvalidAdmin",
      );
    });

    it("lets the channel admin, not members or other channels' admins, manage members", async function () {
      const { registry, channelAdmin, alice, mallory } = await networkHelpers.loadFixture(deployFixture);
      const role = memberRoleOf(GENERAL);
      await expect(registry.connect(alice).grantRole(role, mallory.address)).to.be.revertedWithCustomError(
        registry,
        "AccessControlUnauthorizedAccount",
      );
      await registry.createChannel(channelId("other"), mallory.address);
      await expect(registry.connect(mallory).grantRole(role, mallory.address)).to.be.revertedWithCustomError(
        registry,
        "AccessControlUnauthorizedAccount",
      );
      await expect(registry.connect(channelAdmin).revokeRole(role, alice.address))
        .to.emit(registry, "RoleRevoked")
        .withArgs(role, alice.address, channelAdmin.address);
      expect(await registry.hasRole(role, alice.address)).to.equal(false);
    });

    it("closes and reopens a channel by its admin or the registry admin only", async function () {
      const { registry, channelAdmin, alice } = await networkHelpers.loadFixture(deployFixture);
      await expect(registry.connect(alice).closeChannel(GENERAL))
        .to.be.revertedWithCustomError(registry, "NotChannelAdmin")
        .withArgs(GENERAL, alice.address);
      await expect(registry.connect(channelAdmin).closeChannel(GENERAL)).to.emit(registry, "ChannelClosed").withArgs(GENERAL);
      await expect(registry.closeChannel(GENERAL)).to.be.revertedWithCustomError(registry, "ChannelIsClosed");
      await expect(registry.reopenChannel(GENERAL)).to.emit(registry, "ChannelReopened").withArgs(GENERAL);
      await expect(registry.reopenChannel(GENERAL)).to.be.revertedWithCustomError(registry, "ChannelIsOpen");
      await expect(registry.closeChannel(channelId("nope")))
        .to.be.revertedWithCustomError(registry, "UnknownChannel")
        .withArgs(channelId("nope"));
    });
  });

  describe("limits, content types and pause", function () {
    it("lets the admin set limits and content types, with events", async function () {
      const { registry, alice } = await networkHelpers.loadFixture(deployFixture);
      await expect(registry.setLimits({ maxBodyBytes: 10, maxAge: 60, maxFutureSkew: 0 }))
        .to.emit(registry, "LimitsChanged")
        .withArgs(10, 60, 0);
      await expect(registry.setLimits({ maxBodyBytes: 10, maxAge: 0, maxFutureSkew: 0 })).to.be.revertedWithCustomError(
        registry,
        "InvalidLimits",
      );
      await expect(registry.setContentType(200, true)).to.emit(registry, "ContentTypeChanged").withArgs(200, true);
      expect(await registry.isContentTypeKnown(200)).to.equal(true);
      await expect(registry.setContentType(1, false)).to.emit(registry, "ContentTypeChanged").withArgs(1, false);
      expect(await registry.isContentTypeKnown(1)).to.equal(false);
      const asAlice = registry.connect(alice);
      for (const call of [
        () => asAlice.setLimits(DEFAULT_LIMITS),
        () => asAlice.setContentType(9, true),
        () => asAlice.pause(),
        () => asAlice.unpause(),
      ]) {
        await expect(call()).to.be.revertedWithCustomError(registry, "AccessControlUnauthorizedAccount");
      }
    });

    it("refuses every post while paused and accepts again after unpause", async function () {
      const { registry, messages, alice } = await networkHelpers.loadFixture(deployFixture);
      const message = await messages.sign(alice);
      await expect(registry.pause()).to.emit(registry, "Paused");
      await expect(registry.post(toCallArgument(message))).to.be.revertedWithCustomError(registry, "EnforcedPause");
      await expect(registry.postBatch(packBatch([toCallArgument(message)]))).to.be.revertedWithCustomError(registry, "EnforcedPause");
      await expect(registry.unpause()).to.emit(registry, "Unpaused");
      await expect(registry.post(toCallArgument(message))).to.emit(registry, "MessagePosted");
    });
  });

  describe("registry administration", function () {
    it("moves the admin role in two steps: the new admin accepts only after the delay", async function () {
      const { registry, admin, mallory, alice } = await networkHelpers.loadFixture(deployFixture);
      const delay = await registry.INITIAL_ADMIN_DELAY();
      expect(delay).to.equal(86_400n);
      expect(await registry.defaultAdminDelay()).to.equal(delay);
      expect(await registry.defaultAdmin()).to.equal(admin.address);
      // One step is gone: granting the admin role directly is refused.
      await expect(registry.grantRole(ZeroHash, mallory.address)).to.be.revertedWithCustomError(
        registry,
        "AccessControlEnforcedDefaultAdminRules",
      );
      await expect(registry.connect(mallory).beginDefaultAdminTransfer(mallory.address))
        .to.be.revertedWithCustomError(registry, "AccessControlUnauthorizedAccount")
        .withArgs(mallory.address, ZeroHash);
      await expect(registry.beginDefaultAdminTransfer(alice.address)).to.emit(registry, "DefaultAdminTransferScheduled");
      await expect(registry.connect(alice).acceptDefaultAdminTransfer()).to.be.revertedWithCustomError(
        registry,
        "AccessControlEnforcedDefaultAdminDelay",
      );
      await expect(registry.connect(mallory).acceptDefaultAdminTransfer()).to.be.revertedWithCustomError(
        registry,
        "AccessControlInvalidDefaultAdmin",
      );
      expect(await registry.hasRole(ZeroHash, admin.address)).to.equal(true);
      await networkHelpers.time.increase(delay);
      await registry.connect(alice).acceptDefaultAdminTransfer();
      expect(await registry.defaultAdmin()).to.equal(alice.address);
      expect(await registry.hasRole(ZeroHash, admin.address)).to.equal(false);
      await expect(registry.createChannel(channelId("old-admin"), admin.address)).to.be.revertedWithCustomError(
        registry,
        "AccessControlUnauthorizedAccount",
      );
      await expect(registry.connect(alice).createChannel(channelId("new-admin"), alice.address)).to.emit(registry, "ChannelCreated");
    });

    it("lets the admin cancel a pending transfer, and never renounce while paused", async function () {
      const { registry, admin, mallory } = await networkHelpers.loadFixture(deployFixture);
      await registry.beginDefaultAdminTransfer(mallory.address);
      await registry.cancelDefaultAdminTransfer();
      await networkHelpers.time.increase(await registry.defaultAdminDelay());
      await expect(registry.connect(mallory).acceptDefaultAdminTransfer()).to.be.revertedWithCustomError(
        registry,
        "AccessControlInvalidDefaultAdmin",
      );
      // Renouncing is a scheduled transfer to nobody; while paused it is refused.
      await registry.beginDefaultAdminTransfer(ZeroAddress);
      await networkHelpers.time.increase(await registry.defaultAdminDelay());
      await registry.pause();
      await expect(registry.renounceRole(ZeroHash, admin.address)).to.be.revertedWithCustomError(
        registry,
        "AdminRenounceWhilePaused",
      );
      expect(await registry.defaultAdmin()).to.equal(admin.address);
      await registry.unpause();
      await registry.renounceRole(ZeroHash, admin.address);
      expect(await registry.defaultAdmin()).to.equal(ZeroAddress);
    });

    it("keeps the channel state and channel list at the storage slots the audit proves", async function () {
      const { registry, messages, alice, channelAdmin } = await networkHelpers.loadFixture(deployFixture);
      await registry.createChannel(channelId("second"), channelAdmin.address);
      await registry.post(toCallArgument(await messages.sign(alice)));
      const address = await registry.getAddress();
      const at = (slot: string) => ethers.provider.getStorage(address, slot);
      expect(BigInt(await at(CHANNEL_COUNT_SLOT))).to.equal(2n);
      expect(await at(channelIdSlot(0))).to.equal(GENERAL);
      expect(await at(channelIdSlot(1))).to.equal(channelId("second"));
      const slots = channelSlots(GENERAL);
      const state = channelStateOf(await at(slots.head), await at(slots.state));
      const info = await registry.channelInfo(GENERAL);
      expect(state).to.deep.equal({ head: info.head, seq: 1n, exists: true, open: true });
    });
  });

  describe("posting", function () {
    it("sequences, seals and emits everything needed to rebuild the message", async function () {
      const { registry, location, messages, alice, bob, relayer } = await networkHelpers.loadFixture(deployFixture);
      const first = await messages.sign(alice);
      const second = await messages.sign(bob, { replyTo: 1n, contentType: 2, body: bodyFromText('{"ok":true}') });
      const d1 = digestOf(location, first);
      const d2 = digestOf(location, second);
      expect(await registry.digestOf(toCallArgument(first))).to.equal(d1);
      const h1 = nextHead(ZeroHash, d1, 1);
      const h2 = nextHead(h1, d2, 2);
      const posted = await registry.connect(relayer).post(toCallArgument(first));
      await expect(posted).to.emit(registry, "MessagePosted").withArgs(GENERAL, 1, alice.address);
      // The packed data, byte by byte as the README documents it.
      const firstLog = (await posted.wait())!.logs.find((l) => l.topics[0] === MESSAGE_POSTED_TOPIC)!;
      const hexOf = (value: bigint | number, bytes: number) => BigInt(value).toString(16).padStart(2 * bytes, "0");
      expect(firstLog.data).to.equal(
        "0x" +
          hexOf(1, 1) +
          hexOf(first.timestamp, 8) +
          hexOf(0, 1) + // replyTo 0: length 0, no bytes
          hexOf(minimalLength(first.nonce), 1) +
          hexOf(first.nonce, minimalLength(first.nonce)) +
          h1.slice(2) +
          hexOf(65, 2) +
          first.signature.slice(2).toLowerCase() +
          first.body.slice(2).toLowerCase(),
      );
      expect(decodeMessagePosted(location, firstLog)).to.include({ seq: 1n, author: alice.address, head: h1, digest: d1, nonce: first.nonce, timestamp: first.timestamp });
      const tx = await registry.connect(relayer).postBatch(packBatch([toCallArgument(second)]));
      const receipt = (await tx.wait())!;
      const log = receipt.logs.find((l) => l.topics[0] === MESSAGE_POSTED_TOPIC)!;
      const decoded = decodeMessagePosted(location, log);
      expect(decoded.seq).to.equal(2n);
      expect(decoded.digest).to.equal(d2);
      expect(decoded.head).to.equal(h2);
      expect(decoded.body).to.equal(second.body);
      expect(decoded.signature).to.equal(second.signature);
      const info = await registry.channelInfo(GENERAL);
      expect([info.seq, info.head]).to.deep.equal([2n, h2]);
      expect(await registry.isNonceUsed(alice.address, first.nonce)).to.equal(true);
      expect(await registry.isNonceUsed(alice.address, first.nonce + 1000n)).to.equal(false);
    });

    it("postBatch logs exactly what post logs, for every shape of message (its fast path and _seal agree)", async function () {
      const signAll = async (f: Awaited<ReturnType<typeof deployFixture>>) => [
        await f.messages.sign(f.alice, { nonce: 1n }),
        await f.messages.sign(f.bob, { replyTo: 1n, contentType: 2, nonce: (1n << 128n) - 1n, body: bodyFromText('{"ok":true}') }),
        await f.messages.sign(f.alice, { nonce: 0n, contentType: 3, body: "0x00" }),
        await f.messages.sign(f.bob, { replyTo: 3n, nonce: MaxUint256, body: hexlify(randomBytes(4096)) }),
        await f.messages.sign(f.alice, { replyTo: 4n, nonce: 0x0100n, body: bodyFromText("x") }),
      ];
      const shape = (logs: readonly { topics: readonly string[]; data: string }[]) =>
        logs.filter((l) => l.topics[0] === MESSAGE_POSTED_TOPIC).map((l) => ({ topics: [...l.topics], data: l.data }));

      const one = await networkHelpers.loadFixture(deployFixture);
      const signed = await signAll(one);
      const byPost: ReturnType<typeof shape> = [];
      for (const m of signed) byPost.push(...shape((await (await one.registry.connect(one.relayer).post(toCallArgument(m))).wait())!.logs));

      const two = await networkHelpers.loadFixture(deployFixture);
      const receipt = (await (await two.registry.connect(two.relayer).postBatch(packBatch(signed))).wait())!;
      expect(receipt.logs.filter((l) => l.topics[0] !== MESSAGE_POSTED_TOPIC), "nothing rejected").to.deep.equal([]);
      expect(shape(receipt.logs)).to.deep.equal(byPost);
      expect(byPost).to.have.length(signed.length);
      const info = await two.registry.channelInfo(GENERAL);
      expect(info.seq).to.equal(BigInt(signed.length));
      for (const m of signed) expect(await two.registry.isNonceUsed(m.author, m.nonce)).to.equal(true);
    });

    it("refuses a packed batch that ends inside a run or a message, or has an empty run, whole (MalformedBatch), and posts nothing", async function () {
      const { registry, messages, alice, bob } = await networkHelpers.loadFixture(deployFixture);
      const [m1, m2] = [await messages.sign(alice), await messages.sign(bob)];
      const good = packBatch([m1, m2]);
      const size = (hex: string) => (hex.length - 2) / 2;
      // One run (both in general): its 34-byte header, then the two messages.
      const first = size(packBatch([m1]));
      const total = size(good);
      expect(total).to.equal(first + size(packBatch([m2])) - 34, "one channel id for both");
      // Cut inside the run header, inside the first message, in the second's header, and in the second's signature.
      for (const [keep, offset] of [[20, 0], [first - 1, 34], [first + 50, first], [total - 1, first]] as const) {
        await expect(registry.postBatch(good.slice(0, 2 + 2 * keep)))
          .to.be.revertedWithCustomError(registry, "MalformedBatch")
          .withArgs(offset);
      }
      // A run that claims a third message the batch does not have; an empty run.
      const claimsThree = good.slice(0, 2 + 64) + "0003" + good.slice(2 + 68);
      await expect(registry.postBatch(claimsThree)).to.be.revertedWithCustomError(registry, "MalformedBatch").withArgs(total);
      // The first message's replyTo length (byte 34 + 29) over 8, then its nonce length over 32.
      const setByte = (hex: string, at: number, value: number) => hex.slice(0, 2 + 2 * at) + value.toString(16).padStart(2, "0") + hex.slice(4 + 2 * at);
      await expect(registry.postBatch(setByte(good, 63, 9))).to.be.revertedWithCustomError(registry, "MalformedBatch").withArgs(34);
      expect(parseInt(good.slice(2 + 2 * 64, 4 + 2 * 64), 16)).to.equal(minimalLength(m1.nonce), "replyTo 0 takes no bytes: the nonce length follows");
      await expect(registry.postBatch(setByte(good, 64, 33))).to.be.revertedWithCustomError(registry, "MalformedBatch").withArgs(34);
      const emptyRun = good + GENERAL.slice(2) + "0000";
      await expect(registry.postBatch(emptyRun)).to.be.revertedWithCustomError(registry, "MalformedBatch").withArgs(total);
      expect((await registry.channelInfo(GENERAL)).seq).to.equal(0n);
      expect(await registry.postBatch.staticCall(good)).to.equal(2n);
      expect(await registry.postBatch.staticCall("0x")).to.equal(0n);
    });

    it("returns the seq from a static call to post", async function () {
      const { registry, messages, alice } = await networkHelpers.loadFixture(deployFixture);
      const message = await messages.sign(alice);
      expect(await registry.post.staticCall(toCallArgument(message))).to.equal(1n);
    });

    it("accepts one author's nonces in any order and refuses a nonce twice", async function () {
      const { registry, messages, alice } = await networkHelpers.loadFixture(deployFixture);
      const late = await messages.sign(alice, { nonce: 300n });
      const early = await messages.sign(alice, { nonce: 2n });
      await registry.post(toCallArgument(late));
      await registry.post(toCallArgument(early));
      const replay = await messages.sign(alice, { nonce: 300n, body: bodyFromText("different") });
      await expect(registry.post(toCallArgument(replay)))
        .to.be.revertedWithCustomError(registry, "NonceUsed")
        .withArgs(alice.address, 300n);
      await expect(registry.post(toCallArgument(late))).to.be.revertedWithCustomError(registry, "NonceUsed");
    });

    it("lets an author cancel signed messages by invalidating their nonces, and only their own", async function () {
      const { registry, messages, alice, bob } = await networkHelpers.loadFixture(deployFixture);
      const withdrawn = await messages.sign(alice, { nonce: 5n * 256n + 7n });
      const other = await messages.sign(alice, { nonce: 5n * 256n + 8n });
      const bobs = await messages.sign(bob, { nonce: 5n * 256n + 7n });
      const mask = 1n << 7n;
      await expect(registry.connect(alice).invalidateUnorderedNonces(5n, mask))
        .to.emit(registry, "UnorderedNonceInvalidation")
        .withArgs(alice.address, 5n, mask);
      expect(await registry.isNonceUsed(alice.address, 5n * 256n + 7n)).to.equal(true);
      await expect(registry.post(toCallArgument(withdrawn)))
        .to.be.revertedWithCustomError(registry, "NonceUsed")
        .withArgs(alice.address, 5n * 256n + 7n);
      const batch = [withdrawn, other, bobs].map(toCallArgument);
      await expect(registry.postBatch(packBatch(batch)))
        .to.emit(registry, "MessageRejected")
        .withArgs(GENERAL, alice.address, digestOf(messages.registry, withdrawn), Reason.NonceUsed);
      // The neighbouring bit and another author's same nonce were untouched.
      expect((await registry.channelInfo(GENERAL)).seq).to.equal(2n);
      // Used bits stay used: invalidating again (with an empty mask too) changes nothing.
      await registry.connect(alice).invalidateUnorderedNonces(5n, 0n);
      expect(await registry.isNonceUsed(alice.address, 5n * 256n + 8n)).to.equal(true);
    });

    it("accepts a signature from an EIP-1271 contract wallet that is a member", async function () {
      const { registry, location, messages, channelAdmin, alice } = await networkHelpers.loadFixture(deployFixture);
      const wallet = await ethers.deployContract("TestERC1271Wallet", [alice.address]);
      const walletAddress = await wallet.getAddress();
      await registry.connect(channelAdmin).grantRole(memberRoleOf(GENERAL), walletAddress);
      const unsigned = { ...(await messages.sign(alice)), author: walletAddress };
      const signed = await signMessage(alice, location, unsigned);
      await expect(registry.post(toCallArgument(signed))).to.emit(registry, "MessagePosted");
      const forged = await signMessage(channelAdmin, location, { ...unsigned, nonce: 77n });
      await expect(registry.post(toCallArgument(forged))).to.be.revertedWithCustomError(registry, "BadSignature");
    });
  });

  describe("rejections", function () {
    type Case = {
      name: string;
      reason: number;
      error: string;
      make: (f: Awaited<ReturnType<typeof deployFixture>>) => Promise<SignedMessage>;
      args?: (m: SignedMessage, f: Awaited<ReturnType<typeof deployFixture>>) => Promise<unknown[]>;
    };
    const cases: Case[] = [
      {
        name: "unknown channel",
        reason: Reason.UnknownChannel,
        error: "UnknownChannel",
        make: (f) => f.messages.sign(f.alice, { channel: channelId("nowhere") }),
        args: async (m) => [m.channel],
      },
      {
        name: "closed channel",
        reason: Reason.ChannelClosed,
        error: "ChannelIsClosed",
        make: async (f) => {
          await f.registry.closeChannel(GENERAL);
          return f.messages.sign(f.alice);
        },
        args: async (m) => [m.channel],
      },
      {
        name: "author not a member",
        reason: Reason.NotMember,
        error: "NotMember",
        make: (f) => f.messages.sign(f.mallory),
        args: async (m) => [m.channel, m.author],
      },
      {
        name: "empty body",
        reason: Reason.EmptyBody,
        error: "EmptyBody",
        make: (f) => f.messages.sign(f.alice, { body: "0x" }),
      },
      {
        name: "oversize body",
        reason: Reason.BodyTooLarge,
        error: "BodyTooLarge",
        make: (f) => f.messages.sign(f.alice, { body: hexlify(randomBytes(4097)) }),
        args: async () => [4097, 4096],
      },
      {
        name: "unknown content type",
        reason: Reason.UnknownContentType,
        error: "UnknownContentType",
        make: (f) => f.messages.sign(f.alice, { contentType: 9 }),
        args: async () => [9],
      },
      {
        name: "timestamp too far in the future",
        reason: Reason.TimestampInFuture,
        error: "TimestampInFuture",
        make: async (f) => f.messages.sign(f.alice, { timestamp: BigInt(await networkHelpers.time.latest()) + 400n }),
      },
      {
        name: "delayed past its maximum age",
        reason: Reason.MessageExpired,
        error: "MessageExpired",
        make: async (f) => {
          const m = await f.messages.sign(f.alice);
          await networkHelpers.time.increase(3601);
          return m;
        },
      },
      {
        name: "reply to a seq that does not exist yet",
        reason: Reason.UnknownReply,
        error: "UnknownReply",
        make: (f) => f.messages.sign(f.alice, { replyTo: 1n }),
        args: async () => [1, 0],
      },
      {
        name: "nonce already used",
        reason: Reason.NonceUsed,
        error: "NonceUsed",
        make: async (f) => {
          const m = await f.messages.sign(f.alice);
          await f.registry.post(toCallArgument(m));
          return m;
        },
        args: async (m) => [m.author, m.nonce],
      },
      {
        name: "signature by someone else",
        reason: Reason.BadSignature,
        error: "BadSignature",
        make: async (f) => {
          const m = await f.messages.sign(f.bob);
          return { ...m, author: f.alice.address };
        },
        args: async (m) => [m.author],
      },
      {
        name: "malleable (high-s) signature",
        reason: Reason.BadSignature,
        error: "BadSignature",
        make: async (f) => {
          const m = await f.messages.sign(f.alice);
          const n = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
          const s = BigInt("0x" + m.signature.slice(66, 130));
          const v = parseInt(m.signature.slice(130), 16);
          const flipped = m.signature.slice(0, 66) + (n - s).toString(16).padStart(64, "0") + (v === 27 ? "1c" : "1b");
          return { ...m, signature: flipped };
        },
      },
      {
        name: "signature of the wrong length",
        reason: Reason.BadSignature,
        error: "BadSignature",
        make: async (f) => ({ ...(await f.messages.sign(f.alice)), signature: "0x1234" }),
      },
      {
        name: "message signed for another chain",
        reason: Reason.BadSignature,
        error: "BadSignature",
        make: async (f) => {
          const m = await f.messages.sign(f.alice);
          return signMessage(f.alice, { ...f.location, chainId: 1n }, m);
        },
      },
      {
        name: "message signed for another registry",
        reason: Reason.BadSignature,
        error: "BadSignature",
        make: async (f) => {
          const m = await f.messages.sign(f.alice);
          return signMessage(f.alice, { ...f.location, address: f.relayer.address }, m);
        },
      },
      {
        name: "author revoked after signing",
        reason: Reason.NotMember,
        error: "NotMember",
        make: async (f) => {
          const m = await f.messages.sign(f.alice);
          await f.registry.connect(f.channelAdmin).revokeRole(memberRoleOf(GENERAL), f.alice.address);
          return m;
        },
      },
    ];

    for (const c of cases) {
      it(`post reverts with ${c.error} and postBatch rejects with reason ${c.reason}: ${c.name}`, async function () {
        const f = await networkHelpers.loadFixture(deployFixture);
        const message = await c.make(f);
        const before = await f.registry.channelInfo(GENERAL);
        const revert = expect(f.registry.post(toCallArgument(message))).to.be.revertedWithCustomError(f.registry, c.error);
        if (c.args) await revert.withArgs(...(await c.args(message, f)));
        else await revert;
        await expect(f.registry.postBatch(packBatch([toCallArgument(message)])))
          .to.emit(f.registry, "MessageRejected")
          .withArgs(message.channel, message.author, digestOf(f.location, message), c.reason)
          .and.not.to.emit(f.registry, "MessagePosted");
        const after = await f.registry.channelInfo(GENERAL);
        expect([after.seq, after.head]).to.deep.equal([before.seq, before.head]);
      });
    }

    it("postBatch judges a random mix exactly as post does, message by message (fast path and _check agree)", async function () {
      // A seeded mix of good messages and every kind of bad one, through postBatch in one
      // transaction and through post one at a time from the same state: the same messages
      // must land with byte-identical logs and the others be refused for the same reason.
      // mulberry32, seeded: the same mix on every run.
      let seed = 0x5eed1234;
      const random = (n: number) => {
        seed = (seed + 0x6d2b79f5) >>> 0;
        let t = Math.imul(seed ^ (seed >>> 15), seed | 1);
        t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
        return (((t ^ (t >>> 14)) >>> 0) % n);
      };
      const f = await networkHelpers.loadFixture(deployFixture);
      const wallet = await ethers.deployContract("TestERC1271Wallet", [f.alice.address]);
      const walletAddress = await wallet.getAddress();
      await f.registry.connect(f.channelAdmin).grantRole(memberRoleOf(GENERAL), walletAddress);
      const closed = channelId("closed");
      await f.registry.createChannel(closed, f.channelAdmin.address);
      await f.registry.connect(f.channelAdmin).grantRole(memberRoleOf(closed), f.alice.address);
      await f.registry.connect(f.channelAdmin).closeChannel(closed);
      const snapshot = await networkHelpers.takeSnapshot();
      const now = BigInt(await networkHelpers.time.latest());
      const n = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
      const kinds = [
        "good", "good", "good", "good", "wallet", "forged", "high-s", "bad-v", "short-signature", "non-member",
        "expired", "future", "empty", "oversize", "content-type", "unknown-channel", "closed-channel", "reply-ahead",
      ] as const;
      // Each kind three times and 20 more good ones, shuffled.
      const order: (typeof kinds)[number][] = [...kinds, ...kinds, ...kinds, ...Array<"good">(20).fill("good")];
      for (let i = order.length - 1; i > 0; i--) {
        const j = random(i + 1);
        [order[i], order[j]] = [order[j], order[i]];
      }
      const mix: { kind: (typeof kinds)[number]; message: SignedMessage }[] = [];
      for (const kind of order) {
        const author = random(2) ? f.alice : f.bob;
        const body = kind === "empty" ? "0x" : hexlify(randomBytes(kind === "oversize" ? 4097 : 1 + random(300)));
        const base = {
          body,
          contentType: kind === "content-type" ? 9 : 1 + random(3),
          timestamp: kind === "expired" ? now - 3700n : kind === "future" ? now + 1000n : now - BigInt(random(100)),
          // Small nonces repeat now and then (NonceUsed); some are 16 bytes, as the SDK's.
          nonce: random(4) === 0 ? (BigInt(random(1 << 30)) << 96n) | BigInt(random(256)) : BigInt(random(12)),
          replyTo: kind === "reply-ahead" ? 1000n : BigInt(random(3)),
          channel: kind === "unknown-channel" ? channelId("nowhere") : kind === "closed-channel" ? closed : GENERAL,
        };
        let message: SignedMessage;
        if (kind === "wallet") message = await signMessage(f.alice, f.location, { ...(await f.messages.sign(f.alice, base)), author: walletAddress });
        else if (kind === "non-member") message = await f.messages.sign(f.mallory, base);
        else if (kind === "forged") message = { ...(await f.messages.sign(f.bob, base)), author: f.alice.address };
        else message = await f.messages.sign(kind === "closed-channel" ? f.alice : author, base);
        const sig = message.signature;
        if (kind === "high-s") {
          const s = BigInt("0x" + sig.slice(66, 130));
          message = { ...message, signature: sig.slice(0, 66) + (n - s).toString(16).padStart(64, "0") + (sig.endsWith("1b") ? "1c" : "1b") };
        }
        if (kind === "bad-v") message = { ...message, signature: sig.slice(0, 130) + (random(2) ? "00" : "1d") };
        if (kind === "short-signature") message = { ...message, signature: sig.slice(0, 130) };
        mix.push({ kind, message });
      }
      const reasonOf = (error: unknown) => {
        const data = (error as { data?: string }).data;
        const parsed = data ? f.registry.interface.parseError(data) : null;
        if (!parsed) throw error;
        const reason = parsed.name === "ChannelIsClosed" ? Reason.ChannelClosed : Reason[parsed.name as keyof typeof Reason];
        if (reason === undefined) throw new Error(`post reverted with ${parsed.name}, not a Reason`);
        return reason;
      };

      const oneByOne: unknown[] = [];
      for (const { message } of mix) {
        try {
          await f.registry.post.staticCall(toCallArgument(message));
        } catch (error) {
          oneByOne.push(["rejected", reasonOf(error)]);
          continue;
        }
        const log = (await (await f.registry.post(toCallArgument(message))).wait())!.logs.find((l) => l.topics[0] === MESSAGE_POSTED_TOPIC)!;
        oneByOne.push(["posted", [...log.topics], log.data]);
      }

      await snapshot.restore();
      const receipt = (await (await f.registry.postBatch(packBatch(mix.map((m) => m.message)))).wait())!;
      const batched = receipt.logs.map((log) => {
        if (log.topics[0] === MESSAGE_POSTED_TOPIC) return ["posted", [...log.topics], log.data];
        const e = f.registry.interface.parseLog(log)!;
        expect(e.name).to.equal("MessageRejected");
        return ["rejected", Number(e.args.reason)];
      });
      const brief = (xs: unknown[]) => xs.map((x, i) => `${i} ${mix[i]?.kind}: ${(x as unknown[])[0]} ${(x as unknown[])[0] === "posted" ? ((x as string[][])[1][2]).slice(-4) : (x as unknown[])[1]}`);
      expect(brief(batched)).to.deep.equal(brief(oneByOne));
      expect(batched).to.deep.equal(oneByOne);
      // Enough of it lands, and both kinds of signature (ECDSA by the fast path, the wallet's by _check).
      const posted = batched.map((b, i) => (b[0] === "posted" ? mix[i].kind : null)).filter((k) => k !== null);
      expect(posted.length).to.be.greaterThan(20);
      expect(posted).to.include.members(["good", "wallet"]);
    });

    it("names the allowed bounds in the time errors", async function () {
      const f = await networkHelpers.loadFixture(deployFixture);
      const future = await f.messages.sign(f.alice, { timestamp: 10n ** 12n });
      const next = BigInt(await networkHelpers.time.latest()) + 1n;
      await networkHelpers.time.setNextBlockTimestamp(next);
      await expect(f.registry.post(toCallArgument(future)))
        .to.be.revertedWithCustomError(f.registry, "TimestampInFuture")
        .withArgs(10n ** 12n, next + 300n);
      const old = await f.messages.sign(f.alice, { timestamp: next - 4000n });
      await networkHelpers.time.setNextBlockTimestamp(next + 1n);
      await expect(f.registry.post(toCallArgument(old)))
        .to.be.revertedWithCustomError(f.registry, "MessageExpired")
        .withArgs(next - 4000n, next + 1n - 3600n);
    });
  });

  describe("batches", function () {
    it("posts the good messages of a mixed batch and names each bad one", async function () {
      const f = await networkHelpers.loadFixture(deployFixture);
      const ops = channelId("ops");
      await f.registry.createChannel(ops, f.channelAdmin.address);
      await f.registry.connect(f.channelAdmin).grantRole(memberRoleOf(ops), f.bob.address);
      const good1 = await f.messages.sign(f.alice);
      const outsider = await f.messages.sign(f.mallory);
      const good2 = await f.messages.sign(f.bob, { channel: ops });
      const empty = await f.messages.sign(f.bob, { channel: ops, body: "0x" });
      const good3 = await f.messages.sign(f.bob, { replyTo: 1n });
      const duplicate = good1;
      const batch = [good1, outsider, good2, empty, good3, duplicate].map(toCallArgument);
      expect(await f.registry.postBatch.staticCall(packBatch(batch))).to.equal(3n);
      const tx = f.registry.postBatch(packBatch(batch));
      await expect(tx)
        .to.emit(f.registry, "MessageRejected")
        .withArgs(GENERAL, f.mallory.address, digestOf(f.location, outsider), Reason.NotMember);
      await expect(tx)
        .to.emit(f.registry, "MessageRejected")
        .withArgs(ops, f.bob.address, digestOf(f.location, empty), Reason.EmptyBody);
      await expect(tx)
        .to.emit(f.registry, "MessageRejected")
        .withArgs(GENERAL, f.alice.address, digestOf(f.location, duplicate), Reason.NonceUsed);
      const h1 = nextHead(ZeroHash, digestOf(f.location, good1), 1);
      const h2 = nextHead(h1, digestOf(f.location, good3), 2);
      const general = await f.registry.channelInfo(GENERAL);
      expect([general.seq, general.head]).to.deep.equal([2n, h2]);
      const opsInfo = await f.registry.channelInfo(ops);
      expect([opsInfo.seq, opsInfo.head]).to.deep.equal([1n, nextHead(ZeroHash, digestOf(f.location, good2), 1)]);
    });

    it("changes nothing when every message of a batch is refused", async function () {
      const f = await networkHelpers.loadFixture(deployFixture);
      const bad = await f.messages.sign(f.mallory);
      expect(await f.registry.postBatch.staticCall(packBatch([toCallArgument(bad)]))).to.equal(0n);
      await f.registry.postBatch(packBatch([toCallArgument(bad), toCallArgument(bad)]));
      const info = await f.registry.channelInfo(GENERAL);
      expect([info.seq, info.head]).to.deep.equal([0n, ZeroHash]);
    });

    it("rejects a gas-burning wallet's message with BadSignature and posts the 40 honest ones", async function () {
      const f = await networkHelpers.loadFixture(deployFixture);
      const honest = [];
      for (let i = 0; i < 40; i++) honest.push(toCallArgument(await f.messages.sign(i % 2 ? f.alice : f.bob)));
      const honestGas = await f.registry.postBatch.estimateGas(packBatch(honest));
      // One burner burns whatever it gets, the other only above a million gas, so it
      // passes a small one-message simulation and turns hostile inside a big batch.
      const burners = [];
      for (const burnAbove of [0n, 1_000_000n]) {
        const wallet = await ethers.deployContract("TestGasBurnerWallet", [f.alice.address, burnAbove]);
        const address = await wallet.getAddress();
        await f.registry.connect(f.channelAdmin).grantRole(memberRoleOf(GENERAL), address);
        const signed = await signMessage(f.alice, f.location, { ...(await f.messages.sign(f.alice)), author: address });
        burners.push({ address, signed });
      }
      // Alone, the threshold burner looks valid: it costs far less than a million gas.
      const sly = burners[1]!;
      await f.registry.post.staticCall(toCallArgument(sly.signed), { gasLimit: 500_000n });
      const batch = [...honest.slice(0, 20), toCallArgument(burners[0]!.signed), ...honest.slice(20), toCallArgument(sly.signed)];
      const receipt = (await (await f.registry.postBatch(packBatch(batch), { gasLimit: honestGas * 5n })).wait())!;
      const events = receipt.logs.map((log) => f.registry.interface.parseLog(log)).filter((e) => e !== null);
      const rejected = events.filter((e) => e.name === "MessageRejected").map((e) => [e.args.author, e.args.digest, e.args.reason]);
      expect(rejected).to.deep.equal([[burners[0]!.address, digestOf(f.location, burners[0]!.signed), BigInt(Reason.BadSignature)]]);
      // Within its allowance the threshold burner answers honestly, so its message lands.
      const posted = events.filter((e) => e.name === "MessagePosted").map((e) => e.args.author);
      expect(posted).to.have.length(41);
      expect(posted.at(-1)).to.equal(sly.address);
      expect((await f.registry.channelInfo(GENERAL)).seq).to.equal(41n);
    });

    it("reverts the whole batch rather than starve a wallet's check of its gas", async function () {
      const f = await networkHelpers.loadFixture(deployFixture);
      const wallet = await ethers.deployContract("TestERC1271Wallet", [f.alice.address]);
      const address = await wallet.getAddress();
      await f.registry.connect(f.channelAdmin).grantRole(memberRoleOf(GENERAL), address);
      const signed = toCallArgument(await signMessage(f.alice, f.location, { ...(await f.messages.sign(f.alice)), author: address }));
      // Just enough gas to reach the wallet check but not to give it its full allowance:
      // a sender must not be able to turn a valid wallet message into a BadSignature.
      await expect(f.registry.postBatch(packBatch([signed]), { gasLimit: 110_000n })).to.be.revertedWithCustomError(
        f.registry,
        "InsufficientGasForWalletCheck",
      );
      await expect(f.registry.postBatch(packBatch([signed]))).to.emit(f.registry, "MessagePosted");
    });

    it("rebuilds the stored head from the event log alone", async function () {
      const f = await networkHelpers.loadFixture(deployFixture);
      for (let round = 0; round < 3; round++) {
        const batch = [];
        for (let i = 0; i < 5; i++) batch.push(toCallArgument(await f.messages.sign(i % 2 ? f.alice : f.bob)));
        await f.registry.postBatch(packBatch(batch));
      }
      const logs = await ethers.provider.getLogs({
        address: f.location.address,
        topics: [MESSAGE_POSTED_TOPIC],
        fromBlock: 0,
      });
      let head = ZeroHash;
      logs.forEach((log, i) => {
        const m = decodeMessagePosted(f.location, log);
        expect(m.seq).to.equal(BigInt(i + 1));
        head = nextHead(head, m.digest, m.seq);
        expect(m.head).to.equal(head);
      });
      expect((await f.registry.channelInfo(GENERAL)).head).to.equal(head);
    });
  });
});
