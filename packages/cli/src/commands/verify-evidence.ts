/**
 * `chainmail verify-evidence FILE`: checks an evidence bundle written by
 * `chainmail audit --evidence FILE` with no network at all, and prints the same verdict.
 */
import { parseCheckpoint, runVerifyEvidence, type Checkpoint } from "@chainmail/audit";
import { readCommand, refuse, type Command } from "../options.js";

const COMMAND: Command = {
  name: "verify-evidence",
  synopsis: `Usage: chainmail verify-evidence FILE [--checkpoint BLOCK:HASH] [--json]

Verifies an evidence bundle offline: the block header against its hash (and against
--checkpoint when given: that is what you trust), the registry's storage proofs against
the header's state root, and then the same audit as \`chainmail audit\` over the
messages and membership events the bundle holds.`,
  options: {
    checkpoint: { value: "BLOCK:HASH", description: "the block header the bundle must be anchored to" },
    json: { type: "boolean", description: "print the full report as JSON" },
  },
  footer: "Exit status: 0 the bundle verifies clean, 1 it is refused or its record does not verify, 2 wrong input.",
};

export async function run(argv: string[]): Promise<number> {
  const files = argv.filter((a, i) => !a.startsWith("-") && !(i > 0 && argv[i - 1] === "--checkpoint"));
  const read = readCommand(COMMAND, argv.filter((a) => !files.includes(a)));
  if (typeof read === "number") return read;
  if (files.length !== 1) read.problem("Give exactly one evidence bundle file.");
  let checkpoint: Checkpoint | undefined;
  const text = read.string("checkpoint");
  if (text !== undefined) {
    try {
      checkpoint = parseCheckpoint(text);
    } catch (error) {
      read.problem(`--checkpoint: ${(error as Error).message}`);
    }
  }
  if (read.problems.length > 0) return refuse(COMMAND, read.problems);
  return runVerifyEvidence({ file: files[0], checkpoint, json: read.boolean("json") });
}
