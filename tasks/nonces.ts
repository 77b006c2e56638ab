import type { HardhatRuntimeEnvironment } from "hardhat/types/hre";
import { nonceWords } from "@chainmail/protocol";
import { authorKey, connectRegistry, UserError } from "./support.js";

interface InvalidateArgs {
  nonces: string[];
  keyFile: string;
  registry: string;
}

/**
 * Cancels messages the author signed but nobody posted yet: marks their nonces used, sent
 * by the author's own key (only the author may spend their nonces), one transaction per
 * bitmap word.
 */
export async function invalidate(args: InvalidateArgs, hre: HardhatRuntimeEnvironment): Promise<void> {
  const nonces = args.nonces.map((value) => {
    if (!/^(\d+|0x[0-9a-fA-F]+)$/.test(value)) throw new UserError(`A nonce must be a whole number (decimal or 0x hex), not "${value}".`);
    return BigInt(value);
  });
  let words;
  try {
    words = nonceWords(nonces);
  } catch (error) {
    throw new UserError((error as Error).message, error as Error);
  }
  const author = authorKey(args.keyFile);
  const { registry, connection } = await connectRegistry(hre, args.registry);
  const sender = author.connect(connection.ethers.provider);
  for (const { word, mask } of words) {
    const receipt = await (await registry.connect(sender).invalidateUnorderedNonces(word, mask)).wait();
    console.log(`Invalidated nonces of word ${word} (mask 0x${mask.toString(16)}) for ${author.address} in block ${receipt!.blockNumber}.`);
  }
  console.log(`${nonces.length} nonce(s) of ${author.address} can no longer be used: messages signed with them will be refused (NonceUsed).`);
}
