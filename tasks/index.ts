/**
 * ChainMail's Hardhat tasks for contract developers, as a project-local plugin. Every
 * task lives under `chainmail` (`npx hardhat chainmail channel create ...`) so that no
 * other plugin's `deploy` or `audit` can clash with ours. Each action lives in its own
 * module and is loaded only when its task runs.
 */
import { ArgumentType } from "hardhat/types/arguments";
import { emptyTask, task } from "hardhat/config";
import { definePlugin } from "hardhat/plugins";
import { PLUGIN_ID } from "./plugin-id.js";

const registryOption = {
  name: "registry" as const,
  description: "Registry address (default: CHAINMAIL_REGISTRY, else the one Ignition deployed on this chain)",
  defaultValue: "",
};

const chainmailTasks = [
  emptyTask("chainmail", "ChainMail: deploy the registry, manage channels and members, post, read and audit messages").build(),

  task(["chainmail", "deploy"], "Deploy the MessageRegistry with Ignition; other tasks then find it by chain")
    // Empty means the protocol's DEFAULT_LIMITS, read when the task runs: this file is
    // loaded with the config, before the workspace packages are built.
    .addOption({ name: "maxBodyBytes", description: "Longest body in bytes (default: the protocol's)", defaultValue: "" })
    .addOption({ name: "maxAge", description: "Oldest a message may be, in seconds (default: the protocol's)", defaultValue: "" })
    .addOption({
      name: "maxFutureSkew",
      description: "How far ahead of the chain's clock a timestamp may be, in seconds (default: the protocol's)",
      defaultValue: "",
    })
    .addOption({
      name: "confirmations",
      description: "Blocks each deployment transaction waits for (default 1: a private chain's blocks are final, and with blocks on demand more never come)",
      defaultValue: "1",
    })
    .setAction(() => import("./deploy.js"))
    .build(),

  emptyTask(["chainmail", "channel"], "Create, close, reopen and list channels").build(),
  task(["chainmail", "channel", "create"], "Create a channel (registry admin)")
    .addPositionalArgument({ name: "name", description: "Channel name, up to 31 bytes" })
    .addOption({ name: "admin", description: "Channel admin address (default: the first account)", defaultValue: "" })
    .addOption(registryOption)
    .setAction(async () => ({ default: (await import("./channel.js")).create }))
    .build(),
  task(["chainmail", "channel", "close"], "Close a channel to new messages")
    .addPositionalArgument({ name: "name", description: "Channel name" })
    .addOption(registryOption)
    .setAction(async () => ({ default: (await import("./channel.js")).close }))
    .build(),
  task(["chainmail", "channel", "reopen"], "Reopen a closed channel")
    .addPositionalArgument({ name: "name", description: "Channel name" })
    .addOption(registryOption)
    .setAction(async () => ({ default: (await import("./channel.js")).reopen }))
    .build(),
  task(["chainmail", "channel", "list"], "List channels with their state, last seq and head")
    .addFlag({ name: "json", description: "Print JSON" })
    .addOption(registryOption)
    .setAction(async () => ({ default: (await import("./channel.js")).list }))
    .build(),

  emptyTask(["chainmail", "member"], "Add, remove and list channel members").build(),
  task(["chainmail", "member", "add"], "Add a member to a channel (channel admin)")
    .addPositionalArgument({ name: "channel", description: "Channel name" })
    .addPositionalArgument({ name: "address", description: "Member address" })
    .addOption(registryOption)
    .setAction(async () => ({ default: (await import("./member.js")).add }))
    .build(),
  task(["chainmail", "member", "remove"], "Remove a member from a channel (channel admin)")
    .addPositionalArgument({ name: "channel", description: "Channel name" })
    .addPositionalArgument({ name: "address", description: "Member address" })
    .addOption(registryOption)
    .setAction(async () => ({ default: (await import("./member.js")).remove }))
    .build(),
  task(["chainmail", "member", "list"], "List a channel's current members, from the role events")
    .addPositionalArgument({ name: "channel", description: "Channel name" })
    .addFlag({ name: "json", description: "Print JSON" })
    .addOption(registryOption)
    .setAction(async () => ({ default: (await import("./member.js")).list }))
    .build(),

  task(["chainmail", "post"], "Sign a message with a local key and post it directly to the registry")
    .addPositionalArgument({ name: "channel", description: "Channel name" })
    .addPositionalArgument({ name: "text", description: "Message text" })
    .addOption({ name: "keyFile", description: "File holding the author's private key (default: CHAINMAIL_KEY)", defaultValue: "" })
    .addOption({ name: "replyTo", description: "Seq this message replies to", defaultValue: "" })
    .addOption({ name: "contentType", description: "text/plain, application/json, application/octet-stream or a number", defaultValue: "text/plain" })
    .addOption({ name: "nonce", description: "Nonce (default: random)", defaultValue: "" })
    .addOption(registryOption)
    .setAction(() => import("./post.js"))
    .build(),

  emptyTask(["chainmail", "nonces"], "Manage an author's nonces").build(),
  task(["chainmail", "nonces", "invalidate"], "Cancel signed messages not yet posted: mark their nonces used (sent with the author's key)")
    .addVariadicArgument({ name: "nonces", description: "The nonces to cancel (decimal or 0x hex)" })
    .addOption({ name: "keyFile", description: "File holding the author's private key (default: CHAINMAIL_KEY)", defaultValue: "" })
    .addOption(registryOption)
    .setAction(async () => ({ default: (await import("./nonces.js")).invalidate }))
    .build(),

  task(["chainmail", "messages"], "List a channel's messages from the MessagePosted events")
    .addPositionalArgument({ name: "channel", description: "Channel name" })
    .addFlag({ name: "json", description: "Print JSON" })
    .addOption(registryOption)
    .setAction(() => import("./messages.js"))
    .build(),

  task(["chainmail", "audit"], "Verify the whole record from contract events (and optionally Kafka); exit 0 clean, 1 discrepancies, 2 wrong input")
    .addOption(registryOption)
    .addOption({ name: "channels", description: "Comma-separated channel names to audit (default: all)", defaultValue: "" })
    .addOption({ name: "brokers", description: "Also compare with Kafka at these brokers (HOST:PORT,...; default KAFKA_BROKERS when --topic is given)", defaultValue: "" })
    .addOption({ name: "topic", description: "The mirror's message topic (default chainmail.messages.v1 when --brokers is given)", defaultValue: "" })
    .addOption({ name: "kafkaConfirmations", description: "Messages in the last N blocks may be missing from Kafka", type: ArgumentType.INT, defaultValue: 0 })
    .addFlag({ name: "json", description: "Print the full report as JSON" })
    .addOption({ name: "export", description: "Write every message with its verification status: jsonl or csv", defaultValue: "" })
    .addOption({ name: "out", description: "File for --export", defaultValue: "" })
    .addOption({ name: "toBlock", description: "Audit up to this block (default: the latest)", type: ArgumentType.INT, defaultValue: -1 })
    .addOption({ name: "progressEvery", description: "Progress on stderr every N messages (0 = off)", type: ArgumentType.INT, defaultValue: 10000 })
    .addOption({ name: "workers", description: "Worker threads for signature recovery (-1 = all cores for large audits)", type: ArgumentType.INT, defaultValue: -1 })
    .addOption({ name: "recovery", description: "secp256k1 implementation: native, noble or ethers (default: native libsecp256k1)", defaultValue: "" })
    .setAction(() => import("./audit.js"))
    .build(),
];

export default definePlugin({
  id: PLUGIN_ID,
  // Lives in this repository, not in an npm package: nothing for Hardhat to check.
  npmPackage: null,
  tasks: chainmailTasks,
});
