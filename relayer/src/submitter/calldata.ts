/**
 * postBatch(bytes) calldata built directly on bytes (ethers' generic ABI coder was the
 * relayer's largest CPU cost per message): the selector, the ABI head of one `bytes`
 * argument, and the protocol's packed batch (packBatchBytes). Same bytes as
 * `registryInterface.encodeFunctionData("postBatch", [packBatch(...)])` (a test holds them equal).
 */
import { packBatchBytes, registryInterface, type SignedMessage } from "@chainmail/protocol";

const SELECTOR = Buffer.from(registryInterface.getFunction("postBatch")!.selector.slice(2), "hex");

function word(value: bigint | number): Buffer {
  return Buffer.from(BigInt(value).toString(16).padStart(64, "0"), "hex");
}

export function encodePostBatch(messages: SignedMessage[]): Buffer {
  const packed = packBatchBytes(messages);
  const padding = Buffer.alloc((32 - (packed.length % 32)) % 32);
  return Buffer.concat([SELECTOR, word(32), word(packed.length), packed, padding]);
}
