/**
 * What the deployment tests share: the tools they need (installed by
 * deploy/scripts/tools.sh; a missing tool fails the suite with the installer's words,
 * never a skip), podman with the flags that work here, the image built once per run,
 * and the local chain, registry and channel the containers serve.
 */
import { execFile } from "node:child_process";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { Wallet } from "ethers";
import { createChannelWithMembers, deployRegistry, devPrivateKey, REPO_ROOT, startHardhatNode, type RunningNode } from "@chainmail/testkit";

export const DEPLOY = path.join(REPO_ROOT, "deploy");
export const CHART = path.join(DEPLOY, "helm/chainmail");
export const IMAGE = "localhost/chainmail:test";

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command to its end (never through a shell); the result, whatever the exit code. */
export function run(file: string, args: string[], { timeoutMs = 120_000, env = {} as Record<string, string>, input = undefined as string | undefined } = {}): Promise<Run> {
  return new Promise((resolve) => {
    const child = execFile(
      file,
      args,
      { cwd: REPO_ROOT, env: { ...process.env, PATH: `${path.join(REPO_ROOT, "node_modules/.bin")}:${process.env.PATH}`, ...env }, timeout: timeoutMs, killSignal: "SIGKILL", maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => resolve({ code: error ? (typeof error.code === "number" ? error.code : 1) : 0, stdout, stderr }),
    );
    if (input !== undefined) child.stdin!.end(input);
  });
}

/** Like run, but throws with the command's output when it fails. */
export async function ok(file: string, args: string[], options: Parameters<typeof run>[2] = {}): Promise<string> {
  const result = await run(file, args, options);
  if (result.code !== 0) throw new Error(`${path.basename(file)} ${args.join(" ")} exited ${result.code}:\n${result.stderr}\n${result.stdout}`.slice(0, 8000));
  return result.stdout;
}

export const podman = (args: string[], options: Parameters<typeof run>[2] = {}) => run(path.join(DEPLOY, "scripts/podman.sh"), args, options);
export const podmanOk = (args: string[], options: Parameters<typeof run>[2] = {}) => ok(path.join(DEPLOY, "scripts/podman.sh"), args, options);

let tools: Promise<{ helm: string }> | undefined;
/** Installs podman, buildah, runc, debootstrap, haproxy, helm and kubernetes-validate if missing. */
export function ensureTools(): Promise<{ helm: string }> {
  tools ??= (async () => {
    const installed = await run("bash", [path.join(DEPLOY, "scripts/tools.sh")], { timeoutMs: 20 * 60_000 });
    if (installed.code !== 0) {
      throw new Error(`The deployment tests need tools this machine does not have and deploy/scripts/tools.sh could not install:\n${installed.stderr.split("\n").filter((l) => l.startsWith("==>")).join("\n")}`);
    }
    const gopath = (await ok("go", ["env", "GOPATH"])).trim();
    const which = await run("bash", ["-c", "command -v helm"]);
    return { helm: which.code === 0 ? which.stdout.trim() : path.join(gopath, "bin/helm") };
  })();
  return tools;
}

let image: Promise<string> | undefined;
/** Builds IMAGE with scripts/image/build.sh once per run; the build's last line (name and size). */
export function buildImage(): Promise<string> {
  image ??= (async () => {
    await ensureTools();
    const out = await ok("bash", [path.join(REPO_ROOT, "scripts/image/build.sh"), IMAGE], { timeoutMs: 10 * 60_000 });
    return out.trim().split("\n").pop()!;
  })();
  return image;
}

/** A chain with a registry and a channel "general" whose member is dev account #2. */
export interface LocalChain {
  node: RunningNode;
  registry: string;
  alice: Wallet;
  stop(): Promise<void>;
}

export async function startLocalChain(): Promise<LocalChain> {
  const node = await startHardhatNode();
  const deployer = new Wallet(devPrivateKey(0), node.provider);
  const admin = new Wallet(devPrivateKey(1), node.provider);
  const alice = new Wallet(devPrivateKey(2));
  const deployed = await deployRegistry(deployer);
  await createChannelWithMembers(deployed.registry, "general", admin, [alice.address]);
  return { node, registry: deployed.address, alice, stop: () => node.stop() };
}

/**
 * A folder of key files, one per relayer pod name, as a mounted Kubernetes Secret looks.
 * Readable by the image's user 10001 (a Secret volume's files are 0644 by default too).
 */
export function keyFolder(keys: Record<string, string>): { dir: string; remove(): void } {
  const dir = mkdtempSync(path.join(tmpdir(), "chainmail-keys-"));
  chmodSync(dir, 0o755);
  for (const [name, key] of Object.entries(keys)) {
    writeFileSync(path.join(dir, name), `${key}\n`);
    chmodSync(path.join(dir, name), 0o644);
  }
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A name no earlier run used, for containers and pods. */
export const unique = (prefix: string) => `${prefix}-${Date.now().toString(36)}${Math.floor(Math.random() * 1e4)}`;
