/**
 * `scripts/start.sh`, the local stack, stops everything it started however it is stopped:
 * its terminal closing (SIGHUP to its process group), Ctrl-C while its output is piped
 * into `tee` (tee dies first, the stack's writes then fail), and `kill -INT` / `kill
 * -TERM` of the script's PID. Each run takes free ports; afterwards nothing listens on
 * them and no process of the stack is left. A Kafka broker the stack started is stopped;
 * one that was running before it (KAFKA_PORT pointing at it) is used and left running.
 */
import { expect } from "chai";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { connect } from "node:net";
import os from "node:os";
import path from "node:path";
import { freePort, REPO_ROOT, waitFor } from "@chainmail/testkit";

const START = path.join(REPO_ROOT, "scripts/start.sh");

interface Stack {
  child: ChildProcess;
  ports: number[];
  chainUrl: string;
  output: () => string;
  exited: Promise<unknown>;
}

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1", () => (socket.destroy(), resolve(true)));
    socket.once("error", () => resolve(false));
  });
}

/** PIDs of processes whose environment names this stack's chain: the relayer, the mirror. */
function processesOf(chainUrl: string): number[] {
  const needle = `CHAINMAIL_RPC_URL=${chainUrl}\0`;
  return readdirSync("/proc")
    .filter((d) => /^\d+$/.test(d) && Number(d) !== process.pid)
    .filter((d) => {
      try {
        return readFileSync(`/proc/${d}/environ`, "latin1").includes(needle);
      } catch {
        return false;
      }
    })
    .map(Number);
}

async function startStack(how: "direct" | "piped", kafka: { port: number; controllerPort?: number; runDir?: string }, logFile: string): Promise<Stack> {
  const [chain, relayer, grpc] = [await freePort(), await freePort(), await freePort()];
  const env: Record<string, string | undefined> = {
    ...process.env,
    CHAINMAIL_SKIP_SETUP: "1",
    CHAINMAIL_CHAIN_PORT: String(chain),
    CHAINMAIL_PORT: String(relayer),
    CHAINMAIL_GRPC_PORT: String(grpc),
    KAFKA_PORT: String(kafka.port),
    ...(kafka.controllerPort ? { KAFKA_CONTROLLER_PORT: String(kafka.controllerPort) } : {}),
    ...(kafka.runDir ? { KAFKA_RUN_DIR: kafka.runDir } : {}),
  };
  delete env.KAFKA_BROKERS; // the stack finds (or starts) its broker on KAFKA_PORT
  delete env.CHAINMAIL_RPC_URL;
  // Its own process group, as a terminal's foreground job: a group signal is what a terminal sends.
  const child =
    how === "direct"
      ? spawn("bash", [START], { cwd: REPO_ROOT, env, detached: true, stdio: ["ignore", "pipe", "pipe"] })
      : spawn("bash", ["-c", `"${START}" 2>&1 | tee "${logFile}" > /dev/null`], { cwd: REPO_ROOT, env, detached: true, stdio: "ignore" });
  let text = "";
  child.stdout?.on("data", (d) => (text += d));
  child.stderr?.on("data", (d) => (text += d));
  const output = () => (how === "direct" ? text : (() => { try { return readFileSync(logFile, "utf8"); } catch { return ""; } })());
  const exited = new Promise((resolve) => child.once("exit", resolve));
  const stack = { child, ports: [chain, relayer, grpc], chainUrl: `http://127.0.0.1:${chain}`, output, exited };
  await waitFor(
    "the stack to be running",
    async () => {
      if (child.exitCode !== null) throw new Error(`start.sh exited early:\n${output()}`);
      return output().includes("ChainMail is running");
    },
    { timeoutMs: 150_000, intervalMs: 250 },
  );
  return stack;
}

async function expectStopped(stack: Stack, kafkaPort?: number): Promise<void> {
  await Promise.race([stack.exited, new Promise((_, reject) => setTimeout(() => reject(new Error(`start.sh did not exit:\n${stack.output()}`)), 90_000))]);
  for (const port of [...stack.ports, ...(kafkaPort ? [kafkaPort] : [])]) {
    expect(await listening(port), `something still listens on ${port}:\n${stack.output()}`).to.equal(false);
  }
  expect(processesOf(stack.chainUrl), "relayer or mirror processes left").to.deep.equal([]);
}

describe("scripts/start.sh stops the whole stack", function () {
  this.timeout(400_000);
  let scratch: string;
  let stack: Stack | undefined;

  beforeEach(function () {
    scratch = mkdtempSync(path.join(os.tmpdir(), "chainmail-stack-"));
  });
  afterEach(async function () {
    // A failed test must not leave a stack behind: the whole group, then its parts.
    if (stack && stack.child.exitCode === null) {
      try {
        process.kill(-stack.child.pid!, "SIGTERM");
      } catch {
        // gone
      }
      await Promise.race([stack.exited, new Promise((r) => setTimeout(r, 60_000))]);
    }
    for (const pid of stack ? processesOf(stack.chainUrl) : []) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // gone meanwhile
      }
    }
    stack = undefined;
    rmSync(scratch, { recursive: true, force: true });
  });

  it("a closed terminal (SIGHUP to its process group) stops chain, relayer, mirror and the broker it started", async function () {
    const kafka = { port: await freePort(), controllerPort: await freePort(), runDir: path.join(scratch, "kafka") };
    stack = await startStack("direct", kafka, "");
    expect(stack.output()).to.include(`Starting a local Kafka broker on 127.0.0.1:${kafka.port}`);
    // The printed commands name the broker's real port.
    expect(stack.output()).to.include(`--brokers 127.0.0.1:${kafka.port}`);
    expect(await listening(kafka.port)).to.equal(true);
    process.kill(-stack.child.pid!, "SIGHUP");
    await expectStopped(stack, kafka.port);
  });

  it("`start.sh | tee log` then Ctrl-C (SIGINT to the group, tee dies first) stops everything", async function () {
    const kafka = { port: await freePort(), controllerPort: await freePort(), runDir: path.join(scratch, "kafka") };
    stack = await startStack("piped", kafka, path.join(scratch, "stack.log"));
    process.kill(-stack.child.pid!, "SIGINT");
    await expectStopped(stack, kafka.port);
  });

  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    it(`kill -${signal.slice(3)} of the script stops everything, but not a broker that was running before it`, async function () {
      const existing = process.env.KAFKA_BROKERS?.split(",")[0];
      if (!existing) this.skip(); // scripts/test.sh always provides one
      const port = Number(existing!.split(":")[1]);
      stack = await startStack("direct", { port }, "");
      expect(stack.output()).to.include(`Using the Kafka broker already listening on 127.0.0.1:${port}`);
      expect(stack.output()).to.include(`--brokers 127.0.0.1:${port}`);
      process.kill(stack.child.pid!, signal);
      await expectStopped(stack);
      expect(await listening(port), "the broker that was running before the stack still runs").to.equal(true);
    });
  }
});
