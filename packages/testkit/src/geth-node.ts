/**
 * A real geth dev node for end-to-end tests, run as a private network would run it:
 * a genesis that pins the fork set (up to Osaka, none of the future forks geth's `--dev`
 * would otherwise switch on, which price storage very differently), a 100 M block gas
 * limit, the development keys funded, and free ports. Blocks every `blockTimeMs`
 * (`--dev.period`), or on demand when it is 0.
 *
 * geth comes from scripts/geth.sh (the Go module, cached in .cache/go-bin); GETH names
 * another binary of the same version.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { JsonRpcProvider, Network, Wallet } from "ethers";
import { devPrivateKey } from "./dev-keys.js";
import { freePort, REPO_ROOT, waitFor, type RunningNode } from "./hardhat-node.js";

/** geth's dev-mode chain id. */
export const GETH_DEV_CHAIN_ID = 1337n;
export const GETH_BLOCK_GAS_LIMIT = 100_000_000;
/** Development keys 0..FUNDED_DEV_KEYS-1 hold 10^6 ether each in the genesis. */
export const FUNDED_DEV_KEYS = 20;

export interface GethNodeOptions {
  /** Seconds between blocks, as milliseconds (whole seconds only); 0 = a block whenever a transaction arrives. Default 1000. */
  blockTimeMs?: number;
  gasLimit?: number;
  /**
   * Blocks the chain holds before the node is handed over: mined quickly on demand,
   * then the node restarts on the same datadir with `blockTimeMs`. Lets a test cross
   * block 256 (where padded quantities break) without waiting minutes of 1-second blocks.
   */
  minBlocks?: number;
  /** Runs with the datadir already holding `minBlocks`, before the restart (deploy early contracts here). */
  beforeBlocks?: (node: RunningNode) => Promise<void>;
  /**
   * "osaka" (default): every fork up to Osaka, as a private network would run; "all":
   * geth --dev's own set, future forks included (storage priced far higher), for tests
   * of a chain whose gas schedule is not the one the relayer assumed.
   */
  forks?: "osaka" | "all";
  /** Extra geth flags (e.g. `--miner.gasprice`). */
  args?: string[];
}

export interface RunningGeth extends RunningNode {
  datadir: string;
  /** geth's log (the last 20 kB), for failure messages. */
  output(): string;
}

/** The geth binary: GETH, or the one scripts/geth.sh installs (and installs it if missing). */
export function gethBinary(): string {
  if (process.env.GETH) return process.env.GETH;
  const cached = path.join(REPO_ROOT, ".cache/go-bin/geth");
  if (existsSync(cached)) return cached;
  try {
    return execFileSync("bash", [path.join(REPO_ROOT, "scripts/geth.sh")], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] }).trim();
  } catch {
    throw new Error("geth is not installed and scripts/geth.sh could not install it (it needs go and the Go module proxy).");
  }
}

/**
 * geth's own dev genesis (so the system contracts of Prague — beacon roots, history,
 * withdrawal and consolidation requests — are in place), with the fork set pinned:
 * every fork up to Osaka at genesis, anything later removed. Difficulty and terminal
 * total difficulty 0 let `--dev` reuse the initialised datadir.
 */
export function gethGenesis(geth: string, gasLimit: number, forks: "osaka" | "all" = "osaka"): Record<string, unknown> {
  const genesis = JSON.parse(execFileSync(geth, ["--dev", "dumpgenesis"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }));
  const config = genesis.config as Record<string, unknown>;
  const keep = new Set(["chainId", "terminalTotalDifficulty", "depositContractAddress", "blobSchedule"]);
  const wantedForks = new Set(["shanghaiTime", "cancunTime", "pragueTime", "osakaTime"]);
  for (const key of Object.keys(config)) {
    if (forks === "all") break;
    if (key.endsWith("Block")) config[key] = 0;
    else if (key.endsWith("Time")) {
      if (wantedForks.has(key)) config[key] = 0;
      else delete config[key];
    } else if (!keep.has(key) && typeof config[key] !== "object") delete config[key];
  }
  if (forks === "osaka") for (const fork of wantedForks) config[fork] = 0;
  config.chainId = Number(GETH_DEV_CHAIN_ID);
  config.terminalTotalDifficulty = 0;
  const schedule = config.blobSchedule as Record<string, unknown> | undefined;
  if (schedule && forks === "osaka") for (const fork of Object.keys(schedule)) if (!["cancun", "prague", "osaka"].includes(fork)) delete schedule[fork];
  genesis.difficulty = "0x0";
  genesis.gasLimit = "0x" + gasLimit.toString(16);
  genesis.extraData = "0x";
  const alloc = genesis.alloc as Record<string, { balance: string }>;
  for (let i = 0; i < FUNDED_DEV_KEYS; i++) {
    alloc[new Wallet(devPrivateKey(i)).address.slice(2).toLowerCase()] = { balance: "0x" + (10n ** 24n).toString(16) };
  }
  return genesis;
}

/** Starts geth --dev on a fresh datadir (see GethNodeOptions); stop() ends it and removes the datadir. */
export async function startGethNode(options: GethNodeOptions = {}): Promise<RunningGeth> {
  const geth = gethBinary();
  const blockTimeMs = options.blockTimeMs ?? 1000;
  const gasLimit = options.gasLimit ?? GETH_BLOCK_GAS_LIMIT;
  const datadir = mkdtempSync(path.join(tmpdir(), "chainmail-geth-"));
  try {
    const genesisFile = path.join(datadir, "genesis.json");
    writeFileSync(genesisFile, JSON.stringify(gethGenesis(geth, gasLimit, options.forks)));
    execFileSync(geth, ["init", "--datadir", datadir, genesisFile], { stdio: ["ignore", "ignore", "pipe"] });
    if (options.minBlocks) {
      const early = await launch(geth, datadir, 0, gasLimit, options.args ?? []);
      try {
        await options.beforeBlocks?.(early);
        await mineUntil(early, options.minBlocks);
      } finally {
        await early.stop();
      }
    }
    const node = await launch(geth, datadir, blockTimeMs, gasLimit, options.args ?? []);
    const stop = node.stop;
    return { ...node, stop: async () => (await stop(), rmSync(datadir, { recursive: true, force: true })) };
  } catch (error) {
    rmSync(datadir, { recursive: true, force: true });
    throw error;
  }
}

async function launch(geth: string, datadir: string, blockTimeMs: number, gasLimit: number, extra: string[]): Promise<RunningGeth> {
  if (blockTimeMs % 1000 !== 0) throw new RangeError(`geth's --dev.period is in whole seconds; ${blockTimeMs} ms is not.`);
  const [port, authPort] = [await freePort(), await freePort()];
  const args = [
    "--dev",
    "--dev.period",
    String(blockTimeMs / 1000),
    "--datadir",
    datadir,
    "--miner.gaslimit",
    String(gasLimit),
    "--http",
    "--http.addr",
    "127.0.0.1",
    "--http.port",
    String(port),
    "--http.api",
    "eth,net,web3,debug,txpool",
    "--authrpc.port",
    String(authPort),
    "--port",
    "0",
    "--ipcdisable",
    "--nodiscover",
    "--maxpeers",
    "0",
    "--rpc.txfeecap",
    "0",
    // Pipelined senders keep many transactions per account in the pool.
    "--txpool.accountslots",
    "1024",
    "--txpool.globalslots",
    "16384",
    "--verbosity",
    "2",
    ...extra,
  ];
  const child: ChildProcess = spawn(geth, args, { stdio: ["ignore", "pipe", "pipe"], detached: true });
  let log = "";
  const keep = (d: Buffer) => (log = (log + d).slice(-20_000));
  child.stdout!.on("data", keep);
  child.stderr!.on("data", keep);
  const url = `http://127.0.0.1:${port}`;
  // cacheTimeout -1: ethers would answer an identical request (the pending nonce) from a cache.
  const provider = new JsonRpcProvider(url, Network.from(GETH_DEV_CHAIN_ID), { staticNetwork: true, pollingInterval: 100, cacheTimeout: -1 });
  const stop = async () => {
    provider.destroy();
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once("exit", r));
    // SIGINT: geth flushes its database and exits; the datadir stays usable for a restart.
    child.kill("SIGINT");
    const killer = setTimeout(() => child.kill("SIGKILL"), 15_000);
    await exited;
    clearTimeout(killer);
  };
  let nudged = false;
  try {
    await waitFor(
      "geth to answer",
      async () => {
        if (child.exitCode !== null) throw new Error(`geth exited (${child.exitCode}): ${log}`);
        const chainId = (await provider.send("eth_chainId", [])) as string;
        // Until its first transaction indexing is done, geth answers receipt queries with
        // an error ("transaction indexing is in progress"), which no test should meet.
        // The indexer runs at a new block: with blocks on demand, one transaction makes one.
        try {
          await provider.send("eth_getTransactionReceipt", ["0x" + "00".repeat(32)]);
        } catch (error) {
          if (blockTimeMs === 0 && !nudged) {
            nudged = true;
            const filler = new Wallet(devPrivateKey(FUNDED_DEV_KEYS - 1), provider);
            await filler.sendTransaction({ to: filler.address, value: 0n, gasLimit: 21_000n });
          }
          throw error;
        }
        return chainId;
      },
      { timeoutMs: 60_000 },
    );
  } catch (error) {
    await stop();
    throw error;
  }
  return { url, port, process: child, provider, stop, datadir, output: () => log };
}

/**
 * Mines until the chain holds `blocks` blocks: on demand, each transaction is a block,
 * so a run of small self-transfers (pipelined, a block per receipt) gets there in seconds.
 */
async function mineUntil(node: RunningNode, blocks: number): Promise<void> {
  // The last funded dev key: no test signs with it, so its nonces are ours alone.
  const filler = new Wallet(devPrivateKey(FUNDED_DEV_KEYS - 1), node.provider);
  let nonce = await node.provider.getTransactionCount(filler.address, "pending");
  for (;;) {
    const head = await node.provider.getBlockNumber();
    if (head >= blocks) return;
    const sent = await filler.sendTransaction({ to: filler.address, value: 0n, nonce: nonce++, gasLimit: 21_000n });
    await sent.wait();
  }
}
