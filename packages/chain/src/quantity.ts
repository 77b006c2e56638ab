/**
 * A JSON-RPC quantity: 0x-prefixed hex with no leading zeros ("0x0", "0x100"). Nodes
 * other than Hardhat's (geth, for one) refuse padded numbers such as ethers'
 * `toBeHex(256)` = "0x0100", so every block number sent goes through here.
 */
export function toQuantity(value: number | bigint): string {
  if (typeof value === "number" && !Number.isSafeInteger(value)) throw new RangeError(`${value} is not an integer quantity.`);
  if (value < 0) throw new RangeError(`${value} is negative; JSON-RPC quantities are unsigned.`);
  return "0x" + value.toString(16);
}

/** A block tag or a block number, as JSON-RPC wants it. */
export type BlockTag = number | bigint | "latest" | "safe" | "finalized" | "earliest" | "pending";

export function toBlockTag(tag: BlockTag): string {
  return typeof tag === "string" ? tag : toQuantity(tag);
}
