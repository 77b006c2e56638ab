/**
 * `chainmail prove --digest D`: a single message's proof (its fields, its transaction's
 * receipt with an inclusion proof against the block header's receiptsRoot, and the
 * header), written for `chainmail verify-evidence FILE` to check offline.
 */
import { writeFile } from "node:fs/promises";
import { isAddress } from "ethers";
import { RpcClient, RpcError } from "@chainmail/chain";
import { ChainMailError } from "@chainmail/protocol";
import { proveMessage } from "@chainmail/audit";
import { cliVersion } from "../version.js";
import { ADDRESS, readCommand, REGISTRY, refuse, RPC_URL, type Command } from "../options.js";

const COMMAND: Command = {
  name: "prove",
  synopsis: `Usage: chainmail prove --digest 0x... --rpc-url URL --registry 0x... [--out FILE]

Finds the message with this digest among the registry's MessagePosted events and writes
its proof: the message's fields, its transaction's receipt, the receipt's inclusion proof
in the block's receipts trie (rebuilt from all the block's receipts and checked against
the header's receiptsRoot) and the block header. Anyone checks it offline with
\`chainmail verify-evidence FILE --checkpoint BLOCK:HASH\`.`,
  options: {
    digest: { value: "0xHASH", default: "(required)", description: "the message's EIP-712 digest" },
    ...RPC_URL,
    ...REGISTRY,
    out: { value: "FILE", default: "standard output", description: "write the proof to FILE" },
    "from-block": { value: "N", default: "0", description: "search the registry's events from block N" },
    "block-range": { value: "N", default: "2000", description: "blocks per eth_getLogs request (halved if refused)" },
  },
  footer: "Exit status: 0 written, 1 no such message or the node's answers do not hang together, 2 wrong input or the node cannot be reached.",
};

export async function run(argv: string[]): Promise<number> {
  const read = readCommand(COMMAND, argv);
  if (typeof read === "number") return read;
  const digest = read.requiredCheck("digest", (v) => /^0x[0-9a-fA-F]{64}$/.test(v), "a 32-byte hash (0x followed by 64 hex digits)");
  const rpcUrl = read.url("rpc-url") ?? read.required("rpc-url", "the chain's JSON-RPC URL, such as http://127.0.0.1:8545");
  const registry = read.requiredCheck("registry", isAddress, ADDRESS);
  const fromBlock = read.integer("from-block");
  const chunkBlocks = read.integer("block-range", { min: 1 });
  const out = read.string("out");
  if (read.problems.length > 0) return refuse(COMMAND, read.problems);
  try {
    const proof = await proveMessage(new RpcClient(rpcUrl!), registry!, digest!, { fromBlock, chunkBlocks, tool: `chainmail ${cliVersion()}` });
    const text = JSON.stringify(proof, null, 1) + "\n";
    if (out) {
      await writeFile(out, text);
      console.error(`Wrote the proof of message ${proof.message.seq} (block ${proof.manifest.block}) to ${out}; check it offline with: chainmail verify-evidence ${out} --checkpoint ${proof.manifest.block}:${proof.manifest.blockHash}`);
    } else process.stdout.write(text);
    return 0;
  } catch (error) {
    const message = error instanceof Error ? error.message.split("\n")[0] : String(error);
    // A missing message or answers that do not hang together are verdicts (1); reaching the node is not (2).
    const verdict = error instanceof ChainMailError && !(error instanceof RpcError);
    console.error(`chainmail prove: ${message}`);
    return verdict ? 1 : 2;
  }
}
