/**
 * The chains a benchmark runs on (`--chain hardhat|geth|both`): Hardhat's node
 * (automine) from the testkit, and geth --dev with 1-second blocks as a private network
 * would run it (fork set pinned at Osaka, 100 M block gas limit, the development keys
 * funded). geth comes from the testkit's launcher when it has one (startGethNode);
 * until then from the minimal launcher below, with the binary from GETH or
 * .cache/go-bin/geth (`GOBIN=$PWD/.cache/go-bin go install github.com/ethereum/go-ethereum/cmd/geth@v1.17.10`).
 */
import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { JsonRpcProvider, Network, Wallet } from "ethers";
import * as testkit from "@chainmail/testkit";
import { devPrivateKey, freePort, REPO_ROOT, startHardhatNode, waitFor, type RunningNode } from "@chainmail/testkit";

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
  if (kind === "hardhat") return startHardhatNode();
  const shared = (testkit as Record<string, unknown>).startGethNode as undefined | ((o: { blockTimeMs: number }) => Promise<RunningNode>);
  return shared ? shared({ blockTimeMs: 1000 }) : startGeth();
}

const GAS_LIMIT = 100_000_000;

function gethBinary(): string {
  const binary = process.env.GETH ?? path.join(REPO_ROOT, ".cache/go-bin/geth");
  if (!existsSync(binary)) throw new Error(`geth is not installed: set GETH, or run GOBIN=${path.join(REPO_ROOT, ".cache/go-bin")} go install github.com/ethereum/go-ethereum/cmd/geth@v1.17.10`);
  return binary;
}

async function startGeth(): Promise<RunningNode> {
  const geth = gethBinary();
  const datadir = mkdtempSync(path.join(tmpdir(), "chainmail-bench-geth-"));
  const genesis = JSON.parse(execFileSync(geth, ["--dev", "dumpgenesis"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }));
  const config = genesis.config as Record<string, unknown>;
  // Pin the fork set: every fork up to Osaka at genesis, none of dev mode's future ones.
  for (const key of Object.keys(config)) {
    if (key.endsWith("Block")) config[key] = 0;
    else if (key.endsWith("Time") && !["shanghaiTime", "cancunTime", "pragueTime", "osakaTime"].includes(key)) delete config[key];
  }
  Object.assign(config, { shanghaiTime: 0, cancunTime: 0, pragueTime: 0, osakaTime: 0, terminalTotalDifficulty: 0 });
  const schedule = config.blobSchedule as Record<string, unknown> | undefined;
  if (schedule) for (const fork of Object.keys(schedule)) if (!["cancun", "prague", "osaka"].includes(fork)) delete schedule[fork];
  Object.assign(genesis, { difficulty: "0x0", gasLimit: "0x" + GAS_LIMIT.toString(16), extraData: "0x" });
  for (let i = 0; i < 20; i++) genesis.alloc[new Wallet(devPrivateKey(i)).address.slice(2).toLowerCase()] = { balance: "0x" + (10n ** 24n).toString(16) };
  writeFileSync(path.join(datadir, "genesis.json"), JSON.stringify(genesis));
  execFileSync(geth, ["init", "--datadir", datadir, path.join(datadir, "genesis.json")], { stdio: "ignore" });
  const [port, authPort] = [await freePort(), await freePort()];
  const child = spawn(geth, [
    "--dev", "--dev.period", "1", "--datadir", datadir, "--miner.gaslimit", String(GAS_LIMIT),
    "--http", "--http.addr", "127.0.0.1", "--http.port", String(port), "--http.api", "eth,net,web3,txpool",
    "--authrpc.port", String(authPort), "--port", "0", "--ipcdisable", "--nodiscover", "--maxpeers", "0",
    "--rpc.txfeecap", "0", "--txpool.accountslots", "1024", "--txpool.globalslots", "16384", "--verbosity", "2",
  ], { stdio: ["ignore", "ignore", "pipe"], detached: true });
  let log = "";
  child.stderr!.on("data", (d) => (log = (log + d).slice(-5000)));
  const url = `http://127.0.0.1:${port}`;
  const provider = new JsonRpcProvider(url, Network.from(BigInt(genesis.config.chainId)), { staticNetwork: true, pollingInterval: 100, cacheTimeout: -1 });
  const stop = async () => {
    provider.destroy();
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGINT");
      const killer = setTimeout(() => child.kill("SIGKILL"), 15_000);
      await exited;
      clearTimeout(killer);
    }
    rmSync(datadir, { recursive: true, force: true });
  };
  try {
    await waitFor("geth to answer", async () => {
      if (child.exitCode !== null) throw new Error(`geth exited (${child.exitCode}): ${log}`);
      return (await provider.send("eth_chainId", [])) as string;
    }, { timeoutMs: 60_000 });
  } catch (error) {
    await stop();
    throw error;
  }
  return { url, port, process: child, provider, stop } as RunningNode;
}
