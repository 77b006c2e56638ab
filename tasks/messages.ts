import type { HardhatRuntimeEnvironment } from "hardhat/types/hre";
import {
  bodyToText,
  channelName,
  contentTypeName,
  decodeMessagePosted,
  MESSAGE_POSTED_TOPIC,
} from "@chainmail/protocol";
import { callerOf, collectLogs } from "@chainmail/chain";
import { connectRegistry, existingChannel, printTable } from "./support.js";

interface MessagesArgs {
  channel: string;
  json: boolean;
  registry: string;
}

/** A channel's messages, read back from the MessagePosted events alone. */
export default async function listMessages(args: MessagesArgs, hre: HardhatRuntimeEnvironment): Promise<void> {
  const { registry, address, chainId, connection } = await connectRegistry(hre, args.registry);
  const id = await existingChannel(registry, args.channel);
  const provider = connection.ethers.provider;
  // The chain package's reader: chunked ranges, so a long history fits any node's limits.
  const logs = await collectLogs(callerOf(provider), { address, topics: [MESSAGE_POSTED_TOPIC, id] }, {
    fromBlock: Number(await registry.deploymentBlock()),
    toBlock: await provider.getBlockNumber(),
  });
  const messages = logs.map((log) => decodeMessagePosted({ chainId, address }, log));
  if (args.json) {
    console.log(
      JSON.stringify(
        messages.map((m) => ({
          channel: channelName(m.channel),
          seq: m.seq.toString(),
          author: m.author,
          timestamp: Number(m.timestamp),
          contentType: contentTypeName(m.contentType),
          replyTo: m.replyTo.toString(),
          nonce: m.nonce.toString(),
          body: m.body,
          text: m.contentType === 3 ? null : bodyToText(m.body),
          digest: m.digest,
          head: m.head,
          signature: m.signature,
          blockNumber: m.blockNumber,
          transactionHash: m.transactionHash,
        })),
        null,
        2,
      ),
    );
    return;
  }
  if (messages.length === 0) {
    console.log(`"${args.channel}" has no messages yet.`);
    return;
  }
  printTable(
    messages.map((m) => {
      const text = m.contentType === 3 ? `(${(m.body.length - 2) / 2} bytes)` : bodyToText(m.body).replace(/\s+/g, " ");
      return {
        seq: m.seq.toString(),
        time: new Date(Number(m.timestamp) * 1000).toISOString().replace(".000Z", "Z"),
        author: m.author,
        reply: m.replyTo === 0n ? "" : m.replyTo.toString(),
        text: text.length > 60 ? text.slice(0, 57) + "..." : text,
      };
    }),
  );
}
