/**
 * `chainmail <command>`: one entry point for every ChainMail command line tool. Each
 * command lives in its own module and exports `run(argv): Promise<number>` (the exit
 * code); this file only dispatches, and answers --help and --version itself.
 */
import { cliVersion } from "./version.js";

// kafkajs 2.2.4 sets one negative timer per process, which Node 24 clamps to 1 ms and
// reports as a TimeoutNegativeWarning; harmless, so keep it off the user's terminal.
const emitWarning = process.emitWarning.bind(process) as (...args: unknown[]) => void;
process.emitWarning = ((warning: unknown, ...rest: unknown[]) => {
  const type = typeof rest[0] === "string" ? rest[0] : (rest[0] as { type?: string } | undefined)?.type;
  if (type === "TimeoutNegativeWarning") return;
  emitWarning(warning, ...rest);
}) as typeof process.emitWarning;

const COMMANDS: Record<string, { summary: string; load: () => Promise<{ run(argv: string[]): Promise<number> }> }> = {
  relayer: { summary: "run the relayer (HTTP and gRPC)", load: () => import("./commands/relayer.js") },
  mirror: { summary: "run the mirror (chain events -> Kafka)", load: () => import("./commands/mirror.js") },
  sign: { summary: "sign a message and print it as JSON (for HTTP or gRPC clients)", load: () => import("./commands/sign.js") },
  post: { summary: "sign a message and post it through a relayer", load: () => import("./commands/post.js") },
  nonces: { summary: "cancel signed messages not yet posted: mark the author's nonces used", load: () => import("./commands/nonces.js") },
  messages: { summary: "list a channel's messages through a relayer", load: () => import("./commands/messages.js") },
  tail: { summary: "follow a channel from Kafka, checking the hash chain", load: () => import("./commands/tail.js") },
  subscriptions: { summary: "list, add or remove teams' channel subscriptions", load: () => import("./commands/subscriptions.js") },
  deliveries: { summary: "which teams have a message, or each team's lag in a channel", load: () => import("./commands/deliveries.js") },
  audit: { summary: "verify the whole record from contract events, proven against a block header", load: () => import("./commands/audit.js") },
  prove: { summary: "write one message's proof (receipt in the block's receipts trie, header)", load: () => import("./commands/prove.js") },
  "verify-evidence": { summary: "check an evidence bundle or a message proof offline", load: () => import("./commands/verify-evidence.js") },
};

function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((name) => name.length));
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`);
  return `Usage: chainmail <command> [options]\n\nCommands:\n${lines.join("\n")}\n\nOptions:\n  -h, --help  print this text\n  --version   print the version\n\nRun "chainmail <command> --help" for a command's options.`;
}

// --help and --version load no command module (and nothing heavy): they answer at once.
async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === "--help" || name === "-h" || name === "help") {
    console.log(usage());
    return 0;
  }
  if (name === "--version") {
    console.log(cliVersion());
    return 0;
  }
  if (!name) {
    console.error(usage());
    return 2;
  }
  const command = COMMANDS[name];
  if (!command) {
    console.error(`chainmail: unknown command "${name}".\n\n${usage()}`);
    return 2;
  }
  return (await command.load()).run(rest);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error(`chainmail: ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 1;
  },
);
