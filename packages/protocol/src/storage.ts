/**
 * Where MessageRegistry keeps what the audit proves with eth_getProof: each channel's
 * `Channel { bytes32 head; uint64 seq; bool exists; bool open; }` in
 * `mapping(bytes32 channel => Channel) _channels`, and the list `bytes32[] _channelIds`.
 * The slots follow from the contract's inheritance order (AccessControl's `_roles` 0,
 * AccessControlDefaultAdminRules' admin and delay fields packed in 1 and 2, Pausable's
 * `_paused` 3, EIP712's two fallback strings 4 and 5, then the registry's own variables);
 * test/storage-layout.ts checks them against the compiler's storage layout and the storage
 * a node really holds (so do the contract tests), so a layout change fails there.
 */
import { AbiCoder, keccak256, toBeHex, zeroPadValue } from "ethers";

export const REGISTRY_SLOTS = {
  /** `_channels` mapping. */
  channels: 6n,
  /** `_channelIds` array: its length here, element i at keccak256(slot) + i. */
  channelIds: 8n,
} as const;

const abi = AbiCoder.defaultAbiCoder();
const slotHex = (slot: bigint) => zeroPadValue(toBeHex(slot), 32).toLowerCase();

/** The two slots of a channel's struct: the head, then seq/exists/open packed in one word. */
export function channelSlots(channel: string): { head: string; state: string } {
  const base = BigInt(keccak256(abi.encode(["bytes32", "uint256"], [channel, REGISTRY_SLOTS.channels])));
  return { head: slotHex(base), state: slotHex(base + 1n) };
}

/** The slot of `_channelIds.length`. */
export const CHANNEL_COUNT_SLOT = slotHex(REGISTRY_SLOTS.channelIds);

/** The slot of `_channelIds[index]`. */
export function channelIdSlot(index: number): string {
  return slotHex(BigInt(keccak256(CHANNEL_COUNT_SLOT)) + BigInt(index));
}

/** A channel's state from its two storage words (as eth_getStorageAt or a proof gives them). */
export function channelStateOf(headWord: string, stateWord: string): { head: string; seq: bigint; exists: boolean; open: boolean } {
  const packed = BigInt(stateWord);
  return {
    head: zeroPadValue(headWord, 32).toLowerCase(),
    seq: packed & 0xffffffffffffffffn,
    exists: ((packed >> 64n) & 0xffn) !== 0n,
    open: ((packed >> 72n) & 0xffn) !== 0n,
  };
}
