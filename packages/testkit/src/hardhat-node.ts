/**
 * A real `hardhat node` (EDR over JSON-RPC) for end-to-end tests: started on a free
 * port, polled until it answers, stopped by its own PID.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createServer } from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { JsonRpcProvider, Network } from "ethers";

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => resolve(typeof address === "object" && address ? address.port : 0));
    });
  });
}

/** Polls `check` every `intervalMs` until it returns a truthy value or `timeoutMs` passes. */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined | null | false>,
  { timeoutMs = 30_000, intervalMs = 100 } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value) return value;
    } catch (error) {
      lastError = error;
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}${lastError ? `: ${String(lastError)}` : ""}`);
}

export interface RunningNode {
  url: string;
  port: number;
  process: ChildProcess;
  provider: JsonRpcProvider;
  stop(): Promise<void>;
}

/**
 * Starts `hardhat node`. With `blockTimeMs`, automine is switched off and blocks are
 * mined on that interval instead, as on a real chain.
 */
export async function startHardhatNode({ blockTimeMs }: { blockTimeMs?: number } = {}): Promise<RunningNode> {
  const port = await freePort();
  const hardhat = path.join(REPO_ROOT, "node_modules/.bin/hardhat");
  const child = spawn(hardhat, ["node", "--port", String(port), "--hostname", "127.0.0.1"], {
    cwd: REPO_ROOT,
    env: { ...process.env, PATH: `${path.join(REPO_ROOT, "node_modules/.bin")}:${process.env.PATH}` },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  let output = "";
  child.stdout!.on("data", (d) => (output = (output + d).slice(-4000)));
  child.stderr!.on("data", (d) => (output = (output + d).slice(-4000)));
  const url = `http://127.0.0.1:${port}`;
  // cacheTimeout -1: ethers otherwise answers an identical request (such as the pending
  // nonce) from a 250 ms cache, and back-to-back transactions collide.
  const provider = new JsonRpcProvider(url, Network.from(31337), {
    staticNetwork: true,
    pollingInterval: 100,
    cacheTimeout: -1,
  });
  const stop = async () => {
    provider.destroy();
    // Killed by a signal, a child has a signalCode and no exitCode: stopping twice must not wait forever.
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once("exit", r));
    try {
      process.kill(-child.pid!, "SIGKILL");
    } catch {
      child.kill("SIGKILL");
    }
    await exited;
  };
  try {
    await waitFor("hardhat node to answer", async () => {
      if (child.exitCode !== null) throw new Error(`hardhat node exited: ${output}`);
      return (await provider.send("eth_chainId", [])) as string;
    });
    if (blockTimeMs) {
      await provider.send("evm_setAutomine", [false]);
      await provider.send("evm_setIntervalMining", [blockTimeMs]);
    }
  } catch (error) {
    await stop();
    throw error;
  }
  return { url, port, process: child, provider, stop };
}

/** The compiled `chainmail` command, as tests run it: `node CHAINMAIL_CLI <command> ...`. */
export const CHAINMAIL_CLI = path.join(REPO_ROOT, "packages/cli/dist/main.js");

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `chainmail ARGS` as a user would (the compiled CLI, node_modules/.bin first on
 * PATH), with `env` over this process's environment; fails if it has not exited within
 * `timeoutMs` (and kills it).
 */
export function runChainmail(args: string[], env: Record<string, string> = {}, timeoutMs = 60_000): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CHAINMAIL_CLI, ...args], {
      cwd: REPO_ROOT,
      env: { ...process.env, PATH: `${path.join(REPO_ROOT, "node_modules/.bin")}:${process.env.PATH}`, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout!.on("data", (d) => (stdout += d));
    child.stderr!.on("data", (d) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`chainmail ${args.join(" ")} did not exit within ${timeoutMs} ms: ${stdout}\n${stderr}`));
    }, timeoutMs);
    child.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}
