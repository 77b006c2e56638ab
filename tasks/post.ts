import type { HardhatRuntimeEnvironment } from "hardhat/types/hre";
import {
  bodyFromText,
  contentTypeCode,
  digestOf,
  MESSAGE_POSTED_TOPIC,
  decodeMessagePosted,
  reasonOfError,
  reasonSentence,
  registryInterface,
  signMessage,
  toCallArgument,
} from "@chainmail/protocol";
// One run posts one message: the cursor persists per author like the CLI's (nonce-state.ts).
import { FileNonceSource } from "@chainmail/cli/nonce-state";
import { authorKey, connectRegistry, existingChannel, UserError } from "./support.js";

interface PostArgs {
  channel: string;
  text: string;
  keyFile: string;
  replyTo: string;
  contentType: string;
  nonce: string;
  registry: string;
}

function integer(value: string, what: string): bigint {
  if (!/^\d+$/.test(value)) throw new UserError(`${what} must be a whole number, not "${value}".`);
  return BigInt(value);
}

/** Signs with the author's local key and submits directly with the network's first account. */
export default async function postMessage(args: PostArgs, hre: HardhatRuntimeEnvironment): Promise<void> {
  const author = authorKey(args.keyFile);
  const { registry, address, chainId } = await connectRegistry(hre, args.registry);
  const channel = await existingChannel(registry, args.channel);
  let contentType: number;
  try {
    contentType = contentTypeCode(args.contentType);
  } catch (error) {
    throw new UserError((error as Error).message, error as Error);
  }
  const signed = await signMessage(author, { chainId, address }, {
    channel,
    author: author.address,
    body: bodyFromText(args.text),
    contentType,
    timestamp: BigInt(Math.floor(Date.now() / 1000)),
    replyTo: args.replyTo ? integer(args.replyTo, "--reply-to") : 0n,
    nonce: args.nonce ? integer(args.nonce, "--nonce") : new FileNonceSource().next(author.address),
  });
  let receipt;
  try {
    receipt = await (await registry.post(toCallArgument(signed))).wait();
  } catch (error) {
    const data = findRevertData(error);
    const parsed = data ? registryInterface.parseError(data) : null;
    if (parsed) {
      const reason = reasonOfError(parsed.name);
      const why = reason ? `${reasonSentence(reason)} ` : "";
      throw new UserError(`The registry refused the message. ${why}(${parsed.name}(${parsed.args.map(String).join(", ")}))`);
    }
    throw error;
  }
  const log = receipt!.logs.find((l) => l.topics[0] === MESSAGE_POSTED_TOPIC)!;
  const posted = decodeMessagePosted({ chainId, address }, log);
  console.log(`Posted to "${args.channel}" as seq ${posted.seq} by ${author.address}.`);
  console.log(`  digest ${digestOf({ chainId, address }, signed)}`);
  console.log(`  head   ${posted.head}`);
  console.log(`  tx     ${receipt!.hash} (block ${receipt!.blockNumber})`);
}

function findRevertData(error: unknown): string | undefined {
  for (let e: any = error; e; e = e.cause ?? e.error) {
    if (typeof e.data === "string" && e.data.startsWith("0x")) return e.data;
    if (typeof e.data?.data === "string") return e.data.data;
    if (e === e.cause) break;
  }
  return undefined;
}
