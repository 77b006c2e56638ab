/**
 * postBatch(SignedMessage[]) calldata built directly on bytes: ethers' generic ABI
 * coder was the relayer's largest CPU cost per message. Same bytes as
 * `registryInterface.encodeFunctionData("postBatch", ...)` (a test holds them equal).
 */
import { registryInterface, type SignedMessage } from "@chainmail/protocol";

const SELECTOR = Buffer.from(registryInterface.getFunction("postBatch")!.selector.slice(2), "hex");

function word(value: bigint | number): Buffer {
  return Buffer.from(BigInt(value).toString(16).padStart(64, "0"), "hex");
}

function padded(hex: string): Buffer {
  const bytes = Buffer.from(hex.slice(2), "hex");
  const size = Math.ceil(bytes.length / 32) * 32;
  const out = Buffer.alloc(32 + size);
  out.writeUInt32BE(bytes.length, 28);
  bytes.copy(out, 32);
  return out;
}

/** One SignedMessage tuple: 8 head words, then body and signature (length + padded data). */
function encodeMessage(m: SignedMessage): Buffer {
  const body = padded(m.body);
  const signature = padded(m.signature);
  const head = Buffer.alloc(8 * 32);
  Buffer.from(m.channel.slice(2), "hex").copy(head, 0);
  Buffer.from(m.author.slice(2), "hex").copy(head, 32 + 12);
  word(8 * 32).copy(head, 64);
  word(m.contentType).copy(head, 96);
  word(m.timestamp).copy(head, 128);
  word(m.replyTo).copy(head, 160);
  word(m.nonce).copy(head, 192);
  word(8 * 32 + body.length).copy(head, 224);
  return Buffer.concat([head, body, signature]);
}

export function encodePostBatch(messages: SignedMessage[]): Buffer {
  const tuples = messages.map(encodeMessage);
  const offsets = Buffer.alloc(32 * messages.length);
  let offset = 32 * messages.length;
  tuples.forEach((t, i) => {
    word(offset).copy(offsets, 32 * i);
    offset += t.length;
  });
  return Buffer.concat([SELECTOR, word(32), word(messages.length), offsets, ...tuples]);
}
