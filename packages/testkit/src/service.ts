/**
 * A long-running `chainmail` command (relayer, mirror) as a separate process, the way
 * an operator runs it: its own process group, its output kept for failure messages.
 */
import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { CHAINMAIL_CLI, REPO_ROOT } from "./hardhat-node.js";

export class ChainmailService {
  readonly child: ChildProcess;
  output = "";

  constructor(args: string[], env: Record<string, string>) {
    this.child = spawn(process.execPath, [CHAINMAIL_CLI, ...args], {
      cwd: REPO_ROOT,
      env: { ...process.env, PATH: `${path.join(REPO_ROOT, "node_modules/.bin")}:${process.env.PATH}`, ...env },
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    });
    const keep = (d: Buffer) => (this.output = (this.output + d).slice(-50_000));
    this.child.stdout!.on("data", keep);
    this.child.stderr!.on("data", keep);
  }

  get exited(): boolean {
    return this.child.exitCode !== null || this.child.signalCode !== null;
  }

  /**
   * Stops it: with SIGINT/SIGTERM it shuts down gracefully (resolves with its exit code,
   * or kills it after `graceMs`); with SIGKILL (the default) at once.
   */
  async stop(signal: NodeJS.Signals = "SIGKILL", graceMs = 60_000): Promise<number | null> {
    if (this.exited) return this.child.exitCode;
    const exited = new Promise<number | null>((r) => this.child.once("exit", (code) => r(code)));
    const kill = (s: NodeJS.Signals) => {
      try {
        process.kill(signal === "SIGKILL" ? -this.child.pid! : this.child.pid!, s);
      } catch {
        this.child.kill(s);
      }
    };
    kill(signal);
    const timer = signal === "SIGKILL" ? undefined : setTimeout(() => kill("SIGKILL"), graceMs);
    const code = await exited;
    clearTimeout(timer);
    return code;
  }
}
