/**
 * The chains a benchmark runs on (`--chain hardhat|geth|both`): Hardhat's node
 * (automine) and geth --dev with 1-second blocks as a private network would run it
 * (fork set pinned at Osaka, 100 M block gas limit, the development keys funded), both
 * from the testkit. geth is GETH or the binary scripts/geth.sh installs.
 */
import { startGethNode, startHardhatNode, type RunningNode } from "@chainmail/testkit";

export const CHAIN_KINDS = ["hardhat", "geth"] as const;
export type ChainKind = (typeof CHAIN_KINDS)[number];

/** `--chain hardhat|geth|both` as a list, or a sentence saying what is wrong. */
export function chainsFlag(value: string): ChainKind[] | string {
  if (value === "both") return [...CHAIN_KINDS];
  if ((CHAIN_KINDS as readonly string[]).includes(value)) return [value as ChainKind];
  return `--chain must be hardhat, geth or both, not ${JSON.stringify(value)}.`;
}

export const CHAIN_DESCRIPTION: Record<ChainKind, string> = {
  hardhat: "Hardhat's node (EDR), automine: a block per transaction",
  geth: "geth v1.17 --dev, 1-second blocks, Osaka genesis, 100 M block gas limit",
};

export async function startBenchChain(kind: ChainKind): Promise<RunningNode> {
  return kind === "hardhat" ? startHardhatNode() : startGethNode({ blockTimeMs: 1000 });
}
