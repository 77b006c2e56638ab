/** A relayer as its own process (`chainmail relayer`), for tests that kill it. */
import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { CHAINMAIL_CLI, REPO_ROOT, waitFor } from "@chainmail/testkit";

export interface RelayerProcess {
  child: ChildProcess;
  output: () => string;
}

export function startRelayer(env: Record<string, string>): RelayerProcess {
  // node --import tsx rather than the tsx wrapper: signals then reach the relayer itself.
  const child = spawn(process.execPath, [CHAINMAIL_CLI, "relayer"], {
    cwd: REPO_ROOT,
    // Any free gRPC port: the default 8081 may be a running local stack's.
    env: { ...process.env, PATH: `${path.join(REPO_ROOT, "node_modules/.bin")}:${process.env.PATH}`, CHAINMAIL_GRPC_PORT: "0", ...env },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  let output = "";
  child.stdout!.on("data", (d) => (output = (output + d).slice(-20_000)));
  child.stderr!.on("data", (d) => (output = (output + d).slice(-20_000)));
  return { child, output: () => output };
}

export async function kill9(relayer: RelayerProcess | undefined): Promise<void> {
  if (!relayer || relayer.child.exitCode !== null || relayer.child.signalCode !== null) return;
  const exited = new Promise((r) => relayer.child.once("exit", r));
  try {
    process.kill(-relayer.child.pid!, "SIGKILL"); // the whole group: tsx and its node child
  } catch {
    relayer.child.kill("SIGKILL");
  }
  await exited;
}

export async function ready(url: string, relayer: RelayerProcess): Promise<void> {
  await waitFor(
    "the relayer to be ready",
    async () => {
      if (relayer.child.exitCode !== null) throw new Error(`relayer exited: ${relayer.output()}`);
      const r = await fetch(`${url}/readyz`);
      return r.status === 200;
    },
    { timeoutMs: 60_000 },
  );
}
