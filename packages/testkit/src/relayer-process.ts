/**
 * `chainmail relayer` as a child process, for tests and runs that need a relayer they
 * can kill -9, restart on the same port and measure (resident memory from /proc): the
 * fuzz run and the chaos run. The compiled CLI runs in one node process, so the PID
 * is the relayer's own and signals reach it directly.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { CHAINMAIL_CLI, freePort, REPO_ROOT, waitFor } from "./hardhat-node.js";

/** Resident memory of a process in MB (VmRSS from /proc; Linux), or undefined once it is gone. */
export function residentMb(pid: number): number | undefined {
  try {
    const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return match ? Number(match[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

export class RelayerProcess {
  child?: ChildProcess;
  private output = "";
  /** Fixed at the first start, so that a restarted relayer answers at the same URL. */
  port = 0;

  /** `env`: the relayer's settings (CHAINMAIL_*); the HTTP port is chosen here, gRPC takes any free port. */
  constructor(private readonly env: Record<string, string>) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get pid(): number | undefined {
    return this.running ? this.child!.pid : undefined;
  }

  get running(): boolean {
    return !!this.child && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** The last 20 kB of its stdout and stderr. */
  get log(): string {
    return this.output;
  }

  /** Starts it (again) and waits, with a bound, until /readyz answers 200. */
  async start(timeoutMs = 90_000): Promise<void> {
    if (!this.port) this.port = await freePort();
    const child = spawn(process.execPath, [CHAINMAIL_CLI, "relayer"], {
      cwd: REPO_ROOT,
      env: {
        ...process.env,
        PATH: `${path.join(REPO_ROOT, "node_modules/.bin")}:${process.env.PATH}`,
        CHAINMAIL_GRPC_PORT: "0",
        CHAINMAIL_LOG_LEVEL: "warn",
        ...this.env,
        CHAINMAIL_PORT: String(this.port),
      },
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    });
    this.child = child;
    const keep = (d: Buffer) => (this.output = (this.output + d).slice(-20_000));
    child.stdout!.on("data", keep);
    child.stderr!.on("data", keep);
    await waitFor(
      `the relayer on port ${this.port} to be ready`,
      async () => {
        if (child.exitCode !== null || child.signalCode !== null) throw new Error(`the relayer exited (${child.exitCode ?? child.signalCode}): ${this.output.slice(-2000)}`);
        const response = await fetch(`${this.url}/readyz`, { signal: AbortSignal.timeout(2000) });
        return response.status === 200;
      },
      { timeoutMs, intervalMs: 200 },
    );
  }

  /** kill -9 (its whole process group), and wait until it is gone. */
  async kill9(): Promise<void> {
    const child = this.child;
    if (!child || !this.running) return;
    const exited = new Promise((r) => child.once("exit", r));
    try {
      process.kill(-child.pid!, "SIGKILL");
    } catch {
      child.kill("SIGKILL");
    }
    await exited;
  }

  /** SIGTERM (it drains in-flight batches), SIGKILL after `timeoutMs`. */
  async stop(timeoutMs = 30_000): Promise<void> {
    const child = this.child;
    if (!child || !this.running) return;
    const exited = new Promise((r) => child.once("exit", r));
    child.kill("SIGTERM");
    const timer = setTimeout(() => void this.kill9(), timeoutMs);
    await exited;
    clearTimeout(timer);
  }
}
