/**
 * `chainmail nonces invalidate`: cancels messages an author signed but nobody posted yet
 * (a lost device, a mistake) by marking their nonces used on-chain. The author's own key
 * sends the transaction, straight to the chain: only the author may spend their nonces.
 */
import { isAddress, Wallet, type JsonRpcProvider } from "ethers";
import { createProvider, RpcClient } from "@chainmail/chain";
import { MessageRegistry__factory, MAX_NONCE, nonceWords } from "@chainmail/protocol";
import { ADDRESS, readCommand, readKey, REGISTRY, refuse, RPC_URL, type Command } from "../options.js";

const COMMAND: Command = {
  name: "nonces",
  synopsis: `Usage: chainmail nonces invalidate --rpc-url URL --registry 0x... --nonce N [--nonce N ...] [options]

Marks the author's nonces used (key from --key-file or env CHAINMAIL_KEY), so that any
message signed with one of them is refused (NonceUsed) by the registry and by relayers.
Nonces of one 256-nonce bitmap word go in one transaction, paid by the author's account.`,
  options: {
    ...RPC_URL,
    ...REGISTRY,
    "key-file": { value: "FILE", description: "file holding the author's 0x-prefixed private key" },
    key: { env: "CHAINMAIL_KEY", envOnly: true, description: "the author's private key, when no --key-file is given" },
    nonce: { multiple: true, value: "N", description: "a nonce to cancel, decimal or 0x hex (repeatable)" },
  },
  footer: "Exit status: 0 invalidated, 1 the chain refused or could not be reached, 2 wrong input.",
};

export async function run(argv: string[]): Promise<number> {
  const [action, ...rest] = argv;
  if (action !== "invalidate" && !argv.includes("--help") && !argv.includes("-h")) {
    return refuse(COMMAND, [action === undefined ? "Say what to do: chainmail nonces invalidate ..." : `Unknown action "${action}"; the one action is "invalidate".`]);
  }
  const read = readCommand(COMMAND, action === "invalidate" ? rest : argv);
  if (typeof read === "number") return read;
  const rpcUrl = read.required("rpc-url", "the chain's JSON-RPC URL, such as http://127.0.0.1:8545");
  read.url("rpc-url");
  const registry = read.required("registry", ADDRESS);
  read.check("registry", isAddress, ADDRESS);
  const nonces: bigint[] = [];
  for (const value of read.strings("nonce")) {
    if (/^(\d+|0x[0-9a-fA-F]+)$/.test(value) && BigInt(value) <= MAX_NONCE) nonces.push(BigInt(value));
    else read.problem(`--nonce is "${value}"; it must be a whole number from 0 to 2^256-1, decimal or 0x hex.`);
  }
  if (read.strings("nonce").length === 0) read.problem("Give at least one --nonce.");
  let key: string | undefined;
  try {
    key = readKey(read.string("key-file"), read.string("key"));
  } catch (error) {
    read.problem((error as Error).message);
  }
  if (read.problems.length > 0) return refuse(COMMAND, read.problems);

  const rpc = new RpcClient(rpcUrl!);
  let provider: JsonRpcProvider | undefined;
  try {
    provider = createProvider(rpc, { chainId: await rpc.chainId() });
    const author = new Wallet(key!, provider);
    const contract = MessageRegistry__factory.connect(registry!, author);
    for (const { word, mask } of nonceWords(nonces)) {
      const receipt = await (await contract.invalidateUnorderedNonces(word, mask)).wait();
      console.log(`Invalidated nonces of word ${word} (mask 0x${mask.toString(16)}) for ${author.address} in block ${receipt!.blockNumber}.`);
    }
    console.log(`${nonces.length} nonce(s) of ${author.address} can no longer be used: messages signed with them will be refused (NonceUsed).`);
    return 0;
  } catch (error) {
    console.error(`chainmail nonces: ${(error as Error).message}`);
    return 1;
  } finally {
    provider?.destroy();
  }
}
