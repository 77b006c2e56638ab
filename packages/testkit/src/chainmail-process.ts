/**
 * A long-running `chainmail` command (`relayer`, `mirror`) as its own process, the way an
 * operator runs it, for tests and runs that kill -9 it, restart it on the same port,
 * stop it gracefully or measure it: the one runner of such processes.
 *
 * The compiled CLI runs in one node process (not through a node_modules/.bin wrapper,
 * which is a shell script that does not exec), so the PID is the command's own and
 * SIGTERM reaches it; it still gets its own process group, and kill9 signals the whole
 * group so that nothing it started outlives it.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { CHAINMAIL_CLI, freePort, REPO_ROOT, waitFor } from "./hardhat-node.js";

export class ChainmailProcess {
  child?: ChildProcess;
  private output = "";
  private exit?: Promise<number | null>;
  /**
   * A relayer's HTTP port: CHAINMAIL_PORT when `env` sets it, otherwise a free port taken
   * at the first start and kept, so that a restarted relayer answers at the same URL.
   */
  port = 0;

  /**
   * `args`: the command and its arguments (`["relayer"]`); `env`: its settings over this
   * process's environment. A relayer takes any free gRPC port unless `env` names one
   * (the default 8081 may be a running local stack's); log level is warn unless set.
   */
  constructor(
    readonly args: string[],
    private readonly env: Record<string, string> = {},
  ) {}

  /** `chainmail relayer` with these settings (not started yet). */
  static relayer(env: Record<string, string>): ChainmailProcess {
    return new ChainmailProcess(["relayer"], env);
  }

  private get isRelayer(): boolean {
    return this.args[0] === "relayer";
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** The PID while it runs. */
  get pid(): number | undefined {
    return this.running ? this.child!.pid : undefined;
  }

  get running(): boolean {
    return !!this.child && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** The last 50 kB of its stdout and stderr, over restarts: for failure messages. */
  get log(): string {
    return this.output;
  }

  /** Starts it (again) without waiting for anything; see `ready`. */
  async start(): Promise<this> {
    if (this.running) throw new Error(`chainmail ${this.args.join(" ")} is already running (pid ${this.child!.pid})`);
    const env: Record<string, string> = { CHAINMAIL_LOG_LEVEL: "warn", ...this.env };
    if (this.isRelayer) {
      if (!this.port) this.port = this.env.CHAINMAIL_PORT ? Number(this.env.CHAINMAIL_PORT) : await freePort();
      env.CHAINMAIL_GRPC_PORT ??= "0";
      env.CHAINMAIL_PORT ??= String(this.port);
    }
    const child = spawn(process.execPath, [CHAINMAIL_CLI, ...this.args], {
      cwd: REPO_ROOT,
      env: { ...process.env, PATH: `${path.join(REPO_ROOT, "node_modules/.bin")}:${process.env.PATH}`, ...env },
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    });
    this.child = child;
    // "close", not "exit": by then all its output has been read.
    this.exit = new Promise((resolve) => child.once("close", (code) => resolve(code)));
    const keep = (d: Buffer) => (this.output = (this.output + d).slice(-50_000));
    child.stdout!.on("data", keep);
    child.stderr!.on("data", keep);
    return this;
  }

  /** Its exit code once it has exited (null if a signal ended it). */
  exited(): Promise<number | null> {
    if (!this.exit) throw new Error(`chainmail ${this.args.join(" ")} was never started`);
    return this.exit;
  }

  /** Waits, with a bound, until a relayer's /readyz answers 200; fails at once if it exits. */
  async ready(timeoutMs = 90_000): Promise<this> {
    if (!this.isRelayer) throw new Error(`chainmail ${this.args[0]} has no /readyz`);
    const exited = this.exited().then((code) => {
      throw new Error(`the relayer on port ${this.port} exited (${code ?? this.child!.signalCode}) before it was ready: ${this.output.slice(-2000)}`);
    });
    const readyz = waitFor(
      `the relayer on port ${this.port} to be ready`,
      async () => (await fetch(`${this.url}/readyz`, { signal: AbortSignal.timeout(2000) })).status === 200,
      { timeoutMs, intervalMs: 200 },
    );
    try {
      await Promise.race([readyz, exited]);
    } catch (error) {
      throw new Error(`${(error as Error).message}\nlast output:\n${this.output.slice(-2000)}`, { cause: error });
    } finally {
      exited.catch(() => undefined);
      readyz.catch(() => undefined);
    }
    return this;
  }

  /** kill -9 its whole process group, and wait until it is gone. */
  async kill9(): Promise<void> {
    const child = this.child;
    if (!child || !this.running) return;
    try {
      process.kill(-child.pid!, "SIGKILL");
    } catch {
      child.kill("SIGKILL");
    }
    await this.exit;
  }

  /** SIGTERM (a relayer drains in-flight batches), kill -9 after `graceMs`; resolves with its exit code. */
  async stop(graceMs = 30_000): Promise<number | null> {
    const child = this.child;
    if (!child) return null;
    if (!this.running) return child.exitCode;
    child.kill("SIGTERM");
    const timer = setTimeout(() => void this.kill9(), graceMs);
    const code = await this.exit!;
    clearTimeout(timer);
    return code;
  }

  /** Resident memory in MB (VmRSS from /proc; Linux), or undefined when it is not running. */
  rssMb(): number | undefined {
    const pid = this.pid;
    if (pid === undefined) return undefined;
    try {
      const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
      return match ? Number(match[1]) / 1024 : undefined;
    } catch {
      return undefined;
    }
  }
}
