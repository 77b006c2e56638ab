/**
 * The main job: a whole ChainMail stack on this machine, started in order with progress,
 * and stopped completely on Ctrl-C.
 *
 *   chain    `hardhat node` on 127.0.0.1:8545 (or the chain at CHAINMAIL_RPC_URL)
 *   registry deployed through the Ignition module, so the Hardhat tasks find it
 *   channel  "demo" with development members (well-known keys, never for real use)
 *   kafka    a local broker from scripts/kafka on KAFKA_PORT (default 9092) when Java is present
 *            and KAFKA_BROKERS is unset; a broker already listening there is used, never stopped
 *   relayer  HTTP on 127.0.0.1:8080, gRPC on 127.0.0.1:8081
 *   mirror   chain events -> Kafka (when a broker is available)
 *
 * With CHAINMAIL_CONTAINERS=1 the relayer and the mirror run as containers of the image
 * (CHAINMAIL_IMAGE, default localhost/chainmail:dev, built by scripts/image/build.sh when
 * missing) with podman on the host network, read-only, as user 10001.
 */
import { spawn, execFileSync, type ChildProcess } from "node:child_process";
import { mkdirSync, openSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { JsonRpcProvider, Network, Wallet } from "ethers";
import { MessageRegistry__factory } from "../typechain-types/index.js";
import { channelId, memberRoleOf } from "@chainmail/protocol";
import { devPrivateKey, DEV_ROLES } from "@chainmail/testkit";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const BIN = path.join(ROOT, "node_modules/.bin");
const RUN_DIR = path.join(ROOT, ".run");
const JOURNAL_DIR = path.join(RUN_DIR, "relayer-journal");
const CHAIN_PORT = Number(process.env.CHAINMAIL_CHAIN_PORT ?? 8545);
const RELAYER_PORT = Number(process.env.CHAINMAIL_PORT ?? 8080);
const GRPC_PORT = Number(process.env.CHAINMAIL_GRPC_PORT ?? 8081);
const KAFKA_PORT = Number(process.env.KAFKA_PORT ?? 9092);
const DEMO_CHANNEL = "demo";
const DEMO_TEAM = "demo-team";
const DEMO_MEMBERS = [2, 3, 4];
const CONTAINERS = process.env.CHAINMAIL_CONTAINERS === "1";
const IMAGE = process.env.CHAINMAIL_IMAGE ?? "localhost/chainmail:dev";
const PODMAN = path.join(ROOT, "deploy/scripts/podman.sh");

/**
 * A service's command: `chainmail <service>` here, or with CHAINMAIL_CONTAINERS=1 the
 * same command in a container (foreground `podman run`, which passes SIGTERM on to the
 * service and removes the container when it ends). Variables are passed by name only, so
 * keys never appear in the process list.
 */
function serviceCommand(service: string, env: Record<string, string>): [string, string[]] {
  if (!CONTAINERS) return [path.join(BIN, "chainmail"), [service]];
  const vars = Object.keys(env).flatMap((name) => ["-e", name]);
  return [PODMAN, ["run", "--rm", "--name", `chainmail-stack-${service}`, "--read-only", "--tmpfs", "/tmp", "--network", "host", ...vars, IMAGE, service]];
}

/** With CHAINMAIL_CONTAINERS=1: the image, built first when podman does not have it. */
function ensureImage(): void {
  if (!CONTAINERS) return;
  try {
    execFileSync(PODMAN, ["image", "exists", IMAGE], { stdio: "ignore" });
    step(`Relayer and mirror run as containers of ${IMAGE}`);
  } catch {
    step(`Building the image ${IMAGE} (scripts/image/build.sh; needs root and deploy/scripts/tools.sh's tools)`);
    try {
      execFileSync("bash", [path.join(ROOT, "scripts/image/build.sh"), IMAGE], { cwd: ROOT, stdio: ["ignore", "inherit", "inherit"] });
    } catch {
      throw new StartError("image build", `scripts/image/build.sh ${IMAGE} failed (see above); run deploy/scripts/tools.sh first, as root`);
    }
  }
}

const children: Array<{ name: string; child: ChildProcess }> = [];
let kafkaStartedHere = false;
let stopping = false;

function step(message: string): void {
  try {
    process.stderr.write(`==> ${message}\n`);
  } catch {
    // the terminal or the pipe is gone; the stack still stops
  }
}

class StartError extends Error {
  constructor(readonly part: string, message: string) {
    super(message);
  }
}

/** Starts a long-running part with its output in .run/<name>.log, in its own process group. */
function startPart(name: string, command: string, args: string[], env: Record<string, string> = {}): ChildProcess {
  const log = openSync(path.join(RUN_DIR, `${name}.log`), "w");
  const child = spawn(command, args, {
    cwd: ROOT,
    env: { ...process.env, PATH: `${BIN}:${process.env.PATH}`, ...env },
    stdio: ["ignore", log, log],
    detached: true,
  });
  children.push({ name, child });
  child.on("exit", (code, signal) => {
    if (!stopping) {
      step(`${name} stopped unexpectedly (${signal ?? `exit code ${code}`}); see .run/${name}.log. Stopping the stack.`);
      void shutdown(1);
    }
  });
  return child;
}

async function waitFor(what: string, part: string, check: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (stopping) throw new StartError(part, "start-up was interrupted");
    try {
      if (await check()) return;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new StartError(part, `${what} did not happen within ${timeoutMs / 1000} s; see .run/${part}.log`);
}

function hasJava(): boolean {
  try {
    execFileSync("java", ["-version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

async function portOpen(port: number): Promise<boolean> {
  const { connect } = await import("node:net");
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1", () => (socket.destroy(), resolve(true)));
    socket.once("error", () => resolve(false));
  });
}

async function portFree(port: number): Promise<boolean> {
  const { createServer } = await import("node:net");
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}

async function main(): Promise<void> {
  mkdirSync(RUN_DIR, { recursive: true });
  const externalRpc = process.env.CHAINMAIL_RPC_URL;
  const rpcUrl = externalRpc ?? `http://127.0.0.1:${CHAIN_PORT}`;

  // 1. chain
  if (externalRpc) {
    step(`Using the chain at ${externalRpc} (CHAINMAIL_RPC_URL)`);
  } else {
    if (!(await portFree(CHAIN_PORT))) {
      throw new StartError("chain", `port ${CHAIN_PORT} is in use (another node running?); stop it or set CHAINMAIL_CHAIN_PORT`);
    }
    step(`Starting a local chain (hardhat node) on ${rpcUrl}`);
    startPart("chain", path.join(BIN, "hardhat"), ["node", "--port", String(CHAIN_PORT), "--hostname", "127.0.0.1"]);
  }
  let chainIdHex = "";
  await waitFor("the chain answering", "chain", async () => {
    const response = await fetch(rpcUrl, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_chainId", params: [] }),
    });
    chainIdHex = ((await response.json()) as { result?: string }).result ?? "";
    return Boolean(chainIdHex);
  });
  const network = Network.from(BigInt(chainIdHex));
  // cacheTimeout -1: back-to-back transactions must not see a cached pending nonce.
  const provider = new JsonRpcProvider(rpcUrl, network, { staticNetwork: true, cacheTimeout: -1, pollingInterval: 250 });

  // 2. registry, through Ignition so that `npx hardhat chainmail <task> --network localhost` finds it
  step("Deploying MessageRegistry (Ignition module)");
  // On another chain only the deployer's key is known to hold gas: it also administers the
  // demo channel and pays for the relayer's batches unless CHAINMAIL_SIGNER_KEYS says otherwise.
  const deployerKey = process.env.CHAINMAIL_DEPLOYER_KEY ?? devPrivateKey(DEV_ROLES.deployer);
  if (externalRpc && !process.env.CHAINMAIL_DEPLOYER_KEY) {
    step("CHAINMAIL_DEPLOYER_KEY is not set: deploying with development key #0 (it must hold gas on that chain)");
  }
  const deployEnv = {
    ...process.env,
    PATH: `${BIN}:${process.env.PATH}`,
    CHAINMAIL_RPC_URL: rpcUrl,
    CHAINMAIL_DEPLOYER_KEY: deployerKey,
  };
  const deployOut = execFileSync(path.join(BIN, "hardhat"), ["chainmail", "deploy", "--network", externalRpc ? "custom" : "localhost"], {
    cwd: ROOT,
    env: deployEnv,
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
  });
  const address = /deployed at (0x[0-9a-fA-F]{40})/.exec(deployOut)?.[1];
  if (!address) throw new StartError("registry", `the deploy task printed no address:\n${deployOut}`);

  // 3. demo channel and members
  step(`Creating channel "${DEMO_CHANNEL}" with development members ${DEMO_MEMBERS.map((i) => `#${i}`).join(", ")}`);
  const deployer = new Wallet(deployerKey, provider);
  const channelAdmin = externalRpc ? deployer : new Wallet(devPrivateKey(DEV_ROLES.channelAdmin), provider);
  const registry = MessageRegistry__factory.connect(address, deployer);
  const id = channelId(DEMO_CHANNEL);
  if (!(await registry.channelInfo(id)).exists) {
    await (await registry.createChannel(id, channelAdmin.address)).wait();
  }
  const members = DEMO_MEMBERS.map((i) => new Wallet(devPrivateKey(i)));
  for (const member of members) {
    if (!(await registry.hasRole(memberRoleOf(id), member.address))) {
      await (await registry.connect(channelAdmin).grantRole(memberRoleOf(id), member.address)).wait();
    }
  }
  const aliceKeyFile = path.join(RUN_DIR, "demo-member-2.key");
  writeFileSync(aliceKeyFile, `${members[0].privateKey}\n`, { mode: 0o600 });

  // 4. kafka
  let brokers = process.env.KAFKA_BROKERS;
  if (brokers) {
    step(`Using the Kafka broker(s) at ${brokers} (KAFKA_BROKERS)`);
  } else if (await portOpen(KAFKA_PORT)) {
    // Not ours: it was running before the stack and keeps running after it.
    brokers = `127.0.0.1:${KAFKA_PORT}`;
    step(`Using the Kafka broker already listening on ${brokers} (left running when the stack stops)`);
  } else if (hasJava()) {
    step(`Starting a local Kafka broker on 127.0.0.1:${KAFKA_PORT} (first run fetches it from Maven Central)`);
    try {
      // A chain started here begins at block 0; so does the broker started beside it.
      const fresh = externalRpc ? {} : { KAFKA_FRESH: "1" };
      execFileSync("bash", [path.join(ROOT, "scripts/kafka/start.sh")], { cwd: ROOT, stdio: ["ignore", "inherit", "inherit"], env: { ...process.env, ...fresh } });
    } catch {
      throw new StartError("kafka", "the broker did not start; see .kafka/broker.log");
    }
    kafkaStartedHere = true;
    brokers = `127.0.0.1:${KAFKA_PORT}`;
  } else {
    step("Java is not installed: no local Kafka broker, so the mirror does not run (set KAFKA_BROKERS to use one).");
  }

  // 5. relayer
  const relayerUrl = `http://127.0.0.1:${RELAYER_PORT}`;
  const grpcAddress = `127.0.0.1:${GRPC_PORT}`;
  step(`Starting the relayer on ${relayerUrl} (gRPC on ${grpcAddress})`);
  if (!externalRpc) rmSync(JOURNAL_DIR, { recursive: true, force: true });
  ensureImage();
  const relayerEnv = {
    CHAINMAIL_RPC_URL: rpcUrl,
    CHAINMAIL_REGISTRY: address,
    CHAINMAIL_SIGNER_KEYS: process.env.CHAINMAIL_SIGNER_KEYS ?? (externalRpc ? deployerKey : devPrivateKey(DEV_ROLES.relayer)),
    CHAINMAIL_PORT: String(RELAYER_PORT),
    CHAINMAIL_GRPC_PORT: String(GRPC_PORT),
    // The write-ahead journal behind a durable 202. A chain started here is new, so is its
    // journal (a message accepted for the last run's chain must not land on this one).
    CHAINMAIL_JOURNAL_DIR: CONTAINERS ? "/tmp/chainmail-journal" : JOURNAL_DIR,
    // Team subscriptions and deliveries (and the timeline's delivery ticks) need Kafka.
    ...(brokers ? { KAFKA_BROKERS: brokers } : {}),
  };
  startPart("relayer", ...serviceCommand("relayer", relayerEnv), relayerEnv);
  await waitFor("the relayer reporting ready", "relayer", async () => (await fetch(`${relayerUrl}/readyz`)).ok);
  if (brokers) {
    step(`Subscribing the team "${DEMO_TEAM}" to ${DEMO_CHANNEL}`);
    await waitFor("the relayer's subscriptions (Kafka)", "relayer", async () => {
      const response = await fetch(`${relayerUrl}/v1/subscriptions/${DEMO_TEAM}/${channelId(DEMO_CHANNEL)}`, { method: "PUT" });
      return response.status === 200 || response.status === 201;
    });
  }

  // 6. mirror
  if (brokers) {
    step("Starting the mirror (chain events -> Kafka)");
    const mirrorEnv = { CHAINMAIL_RPC_URL: rpcUrl, CHAINMAIL_REGISTRY: address, KAFKA_BROKERS: brokers };
    startPart("mirror", ...serviceCommand("mirror", mirrorEnv), mirrorEnv);
  }

  const brokerArg = brokers ? ` --brokers ${brokers}` : "";
  console.log(`
ChainMail is running. Logs are in .run/; press Ctrl-C to stop everything.

  chain     ${rpcUrl} (chain id ${network.chainId})
  registry  ${address}
  relayer   ${relayerUrl}   (API docs: ${relayerUrl}/docs)
  gRPC      ${grpcAddress}   (chainmail.v1.RelayerService, with reflection and health)
  timeline  ${relayerUrl}/ui/   (open it in a browser: channels, messages verified in the page, delivery ticks)
  kafka     ${brokers ?? "not running (no Java)"}

Post a message as development member #2 (its key is in ${path.relative(ROOT, aliceKeyFile)}):
  npx chainmail post --relayer ${relayerUrl} --key-file ${path.relative(ROOT, aliceKeyFile)} --channel ${DEMO_CHANNEL} --text "hello, ChainMail" --wait

The same through gRPC (grpcurl: bash scripts/grpc-tools.sh installs it into .cache/go-bin):
  CHAINMAIL_KEY=$(cat ${path.relative(ROOT, aliceKeyFile)}) npx chainmail sign --relayer ${relayerUrl} --channel ${DEMO_CHANNEL} --text "hello, gRPC" --grpc | .cache/go-bin/grpcurl -plaintext -d @ ${grpcAddress} chainmail.v1.RelayerService/PostMessage
  .cache/go-bin/grpcurl -plaintext -d '{"channel": "${DEMO_CHANNEL}", "fromSeq": 1}' ${grpcAddress} chainmail.v1.RelayerService/Subscribe
${
  brokers
    ? `
Watch the channel from Kafka (in another terminal), each message confirmed against the chain:
  npx chainmail tail --channel ${DEMO_CHANNEL}${brokerArg} --from-beginning --rpc-url ${rpcUrl} --registry ${address}

Read it as the subscribed team "${DEMO_TEAM}" (its verified reads are its deliveries), then ask who has what:
  npx chainmail tail --team ${DEMO_TEAM} --channel ${DEMO_CHANNEL}${brokerArg} --rpc-url ${rpcUrl} --registry ${address}
  npx chainmail deliveries --relayer ${relayerUrl} --channel ${DEMO_CHANNEL}
  npx chainmail deliveries --relayer ${relayerUrl} --digest <the digest post printed>
  npx chainmail subscriptions add --relayer ${relayerUrl} --team another-team --channel ${DEMO_CHANNEL}
`
    : ""
}
Audit the record from the chain${brokers ? " and Kafka" : ""}:
  npx chainmail audit --rpc-url ${rpcUrl} --registry ${address}${brokers ? brokerArg : ""}

Contract tasks find this registry by themselves:
  ${externalRpc ? `CHAINMAIL_RPC_URL=${rpcUrl} CHAINMAIL_DEPLOYER_KEY=... npx hardhat chainmail messages ${DEMO_CHANNEL} --network custom` : `npx hardhat chainmail messages ${DEMO_CHANNEL} --network localhost`}
`);
}

/** Sends `signal` to the process group `pgid`; false when the group is gone. */
function signalGroup(pgid: number, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch {
    return false;
  }
}

async function groupGone(pgid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (signalGroup(pgid, 0)) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 100));
  }
  return true;
}

async function shutdown(code: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  step("Stopping ChainMail");
  for (const { name, child } of [...children].reverse()) {
    // The whole process group, until it is empty: `chainmail` and `hardhat` are shell
    // wrappers whose node child outlives them by its graceful stop (the relayer drains
    // its batches, up to its 20 s shutdown timeout).
    if (!signalGroup(child.pid!, "SIGTERM")) continue;
    if (!(await groupGone(child.pid!, 25_000))) {
      signalGroup(child.pid!, "SIGKILL");
      await groupGone(child.pid!, 5_000);
    }
    step(`${name} stopped`);
  }
  if (kafkaStartedHere) {
    try {
      // Its output through step(), not inherited: with `start.sh | tee` ended by Ctrl-C the
      // pipe is gone, and the script would die of SIGPIPE at its first line, broker running.
      const out = execFileSync("bash", [path.join(ROOT, "scripts/kafka/stop.sh")], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"], encoding: "utf8" });
      for (const line of out.trim().split("\n").filter(Boolean)) step(line);
    } catch {
      step("the Kafka broker did not stop cleanly; run scripts/kafka/stop.sh");
    }
  }
  process.exit(code);
}

// Ctrl-C, kill, and a closed terminal (SIGHUP) all stop everything the stack started.
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.on(signal, () => void shutdown(0));
// `start.sh | tee log` then Ctrl-C: tee dies first and our writes fail (EPIPE; EIO on a
// closed terminal). Without these handlers that error would kill the process before it
// stopped the parts it started.
process.stdout.on("error", () => undefined);
process.stderr.on("error", () => undefined);

main().catch((error: unknown) => {
  const part = error instanceof StartError ? error.part : "start-up";
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`\nChainMail did not start: the ${part} failed: ${message}\n`);
  void shutdown(1);
});
