/**
 * The Helm chart: `helm lint`; `helm template` for the defaults, Strimzi on and Besu on;
 * every rendered manifest validated offline against the Kubernetes 1.30 schemas
 * (kubernetes-validate, strict); what the chart promises checked in its output (a key
 * per relayer pod, one mirror writer, probes, security); and the rendered relayer and
 * mirror run with `podman kube play` against a real chain and Kafka, posted through and
 * audited.
 */
import { expect } from "chai";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { Wallet } from "ethers";
import { parseAllDocuments } from "yaml";
import { postMessage } from "@chainmail/client";
import { readTopic } from "@chainmail/mirror";
import { devPrivateKey, freePort, kafkaBrokers, REPO_ROOT, testKafka, uniqueTopics, waitFor } from "@chainmail/testkit";
import { buildImage, CHART, ensureTools, keyFolder, ok, podman, podmanOk, run, startLocalChain, type LocalChain } from "./support.js";

type Manifest = { apiVersion: string; kind: string; metadata: { name: string; labels?: Record<string, string> }; spec?: any; data?: any; stringData?: any };

const KUBE_VERSION = "1.30.0";
const BUILT_IN = new Set(["StatefulSet", "Deployment", "Service", "PodDisruptionBudget", "HorizontalPodAutoscaler", "ConfigMap", "Secret"]);
let helm: string;
let scratch: string;

const template = async (args: string[]): Promise<{ text: string; manifests: Manifest[] }> => {
  const text = await ok(helm, ["template", "cm", CHART, "--kube-version", KUBE_VERSION, ...args]);
  const manifests = parseAllDocuments(text).map((d) => d.toJS() as Manifest).filter(Boolean);
  return { text, manifests };
};
const templateError = async (args: string[]): Promise<string> => {
  const result = await run(helm, ["template", "cm", CHART, "--kube-version", KUBE_VERSION, ...args]);
  expect(result.code, `helm template ${args.join(" ")} should have failed`).to.not.equal(0);
  return result.stderr;
};
const find = (manifests: Manifest[], kind: string, name: string) => {
  const found = manifests.find((m) => m.kind === kind && m.metadata.name === name);
  expect(found, `${kind} ${name}`).to.not.equal(undefined);
  return found!;
};
const envOf = (container: any) => Object.fromEntries(container.env.map((e: any) => [e.name, e.value ?? e.valueFrom]));

/** kubernetes-validate --strict on one rendered file: every built-in resource must pass. */
async function validate(text: string, name: string): Promise<string[]> {
  const file = path.join(scratch, `${name}.yaml`);
  writeFileSync(file, text);
  const result = await run("python3", ["-m", "kubernetes_validate", "-k", KUBE_VERSION, "--strict", file]);
  const out = result.stdout + result.stderr;
  expect(result.code, out).to.equal(0);
  expect(out).to.not.match(/ERROR|failed/);
  return out.split("\n").filter(Boolean);
}

describe("the Helm chart (deploy/helm/chainmail)", function () {
  before(async function () {
    ({ helm } = await ensureTools());
    scratch = mkdtempSync(path.join(tmpdir(), "chainmail-chart-"));
  });
  after(() => scratch && rmSync(scratch, { recursive: true, force: true }));

  it("passes helm lint with each values file", async function () {
    for (const values of ["default", "strimzi", "podman"]) {
      const out = await ok(helm, ["lint", CHART, "--strict", "--kube-version", KUBE_VERSION, "-f", path.join(CHART, `ci/${values}-values.yaml`)]);
      expect(out).to.include("1 chart(s) linted, 0 chart(s) failed");
    }
  });

  it("renders the defaults: relayer StatefulSet with a key per pod, Services, PDB, HPA, one mirror writer; valid for Kubernetes 1.30", async function () {
    const { text, manifests } = await template(["-f", path.join(CHART, "ci/default-values.yaml")]);
    const lines = await validate(text, "default");
    for (const m of manifests) {
      expect(BUILT_IN.has(m.kind), `${m.kind} in the default render`).to.equal(true);
      expect(lines.some((l) => l.includes(`passed for resource ${m.kind.toLowerCase()}/${m.metadata.name} against version 1.30`)), `${m.kind}/${m.metadata.name} validated`).to.equal(true);
    }

    const relayer = find(manifests, "StatefulSet", "cm-chainmail-relayer");
    const pod = relayer.spec.template.spec;
    const container = pod.containers[0];
    expect(container.args).to.deep.equal(["relayer"]);
    // Each pod reads the Secret entry named after itself: no two pods share a key.
    expect(container.env[0]).to.deep.equal({ name: "POD_NAME", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } });
    expect(envOf(container).CHAINMAIL_SIGNER_KEYS_FILE).to.equal("/var/run/chainmail/signer-keys/$(POD_NAME)");
    expect(pod.volumes.find((v: any) => v.name === "signer-keys").secret.secretName).to.equal("chainmail-relayer-keys");
    expect(envOf(container)).to.include({ CHAINMAIL_HOST: "0.0.0.0", CHAINMAIL_PORT: "8080", CHAINMAIL_REGISTRY: "0x5FbDB2315678afecb367f032d93F642f64180aa3", CHAINMAIL_SHUTDOWN_TIMEOUT_MS: "40000" });
    // The write-ahead journal (durable 202) lives on the pod's own claim, kept across restarts.
    expect(envOf(container).CHAINMAIL_JOURNAL_DIR).to.equal("/var/lib/chainmail/journal");
    expect(container.volumeMounts.find((v: any) => v.name === "journal").mountPath).to.equal("/var/lib/chainmail/journal");
    expect(relayer.spec.volumeClaimTemplates.map((c: any) => [c.metadata.name, c.spec.resources.requests.storage])).to.deep.equal([["journal", "1Gi"]]);
    expect(container.readinessProbe.httpGet.path).to.equal("/readyz");
    expect(container.livenessProbe.httpGet.path).to.equal("/healthz");
    expect(container.resources.requests).to.deep.equal({ cpu: "250m", memory: "256Mi" });
    expect(container.securityContext).to.deep.include({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, runAsNonRoot: true });
    expect(pod.securityContext).to.deep.include({ runAsNonRoot: true, runAsUser: 10001 });
    expect(relayer.spec.template.metadata.annotations).to.include({ "prometheus.io/scrape": "true", "prometheus.io/port": "8080" });

    const service = find(manifests, "Service", "cm-chainmail-relayer");
    expect(service.spec.ports.map((p: any) => p.name)).to.deep.equal(["http"]);
    // The relayer always serves gRPC; the headless Service for it is on by default.
    expect(find(manifests, "Service", "cm-chainmail-relayer-grpc").spec.clusterIP).to.equal("None");
    expect(container.ports.map((p: any) => [p.name, p.containerPort])).to.deep.equal([["http", 8080], ["grpc", 8081]]);
    expect(envOf(container)).to.include({ CHAINMAIL_GRPC_PORT: "8081", KAFKA_BROKERS: "kafka-0.example.internal:9092,kafka-1.example.internal:9092" });
    const withoutGrpcService = await template(["-f", path.join(CHART, "ci/default-values.yaml"), "--set", "relayer.grpc.enabled=false"]);
    expect(withoutGrpcService.manifests.some((m) => m.metadata.name === "cm-chainmail-relayer-grpc")).to.equal(false);
    expect(find(manifests, "PodDisruptionBudget", "cm-chainmail-relayer").spec.maxUnavailable).to.equal(1);
    const hpa = find(manifests, "HorizontalPodAutoscaler", "cm-chainmail-relayer");
    expect(hpa.spec.scaleTargetRef).to.deep.equal({ apiVersion: "apps/v1", kind: "StatefulSet", name: "cm-chainmail-relayer" });
    expect(hpa.spec.metrics.map((m: any) => m.type)).to.deep.equal(["Resource"]);

    const mirror = find(manifests, "Deployment", "cm-chainmail-mirror");
    expect(mirror.spec.replicas).to.equal(1);
    expect(mirror.spec.strategy).to.deep.equal({ type: "Recreate" });
    const mirrorContainer = mirror.spec.template.spec.containers[0];
    expect(mirrorContainer.args).to.deep.equal(["mirror"]);
    expect(envOf(mirrorContainer)).to.include({ KAFKA_BROKERS: "kafka-0.example.internal:9092,kafka-1.example.internal:9092", CHAINMAIL_MIRROR_METRICS_HOST: "0.0.0.0" });
    expect(mirror.spec.template.spec.tolerations.map((t: any) => t.tolerationSeconds)).to.deep.equal([30, 30]);
  });

  it("renders Strimzi Kafka (replication 3, min.insync.replicas 2, the mirror's topics), gRPC, ServiceMonitors and a queue-depth HPA", async function () {
    const { text, manifests } = await template(["-f", path.join(CHART, "ci/strimzi-values.yaml")]);
    const lines = await validate(text, "strimzi");
    // No Kubernetes schema exists for custom resources: they are checked field by field below.
    const custom = manifests.filter((m) => !BUILT_IN.has(m.kind)).map((m) => m.kind).sort();
    expect(custom).to.deep.equal(["Kafka", "KafkaNodePool", "KafkaTopic", "KafkaTopic", "KafkaTopic", "ServiceMonitor", "ServiceMonitor"]);
    for (const m of manifests.filter((m) => BUILT_IN.has(m.kind))) {
      expect(lines.some((l) => l.includes(`passed for resource ${m.kind.toLowerCase()}/${m.metadata.name}`)), `${m.kind}/${m.metadata.name} validated`).to.equal(true);
    }
    const kafka = find(manifests, "Kafka", "cm-chainmail-kafka");
    expect(kafka.spec.kafka.config).to.include({ "default.replication.factor": 3, "min.insync.replicas": 2, "transaction.state.log.replication.factor": 3, "transaction.state.log.min.isr": 2 });
    expect(find(manifests, "KafkaNodePool", "cm-chainmail-pool").spec.replicas).to.equal(3);
    const topics = manifests.filter((m) => m.kind === "KafkaTopic");
    expect(topics.map((t) => t.spec.topicName)).to.deep.equal(["chainmail.messages.v1", "chainmail.membership.v1", "chainmail.mirror-cursor.v1"]);
    for (const t of topics) {
      expect(t.spec.replicas).to.equal(3);
      expect(t.spec.config["min.insync.replicas"]).to.equal(2);
      expect(t.metadata.labels!["strimzi.io/cluster"]).to.equal("cm-chainmail-kafka");
    }
    expect(topics[2].spec.config["cleanup.policy"]).to.equal("compact");
    expect(topics[2].spec.partitions).to.equal(1);
    const mirror = find(manifests, "Deployment", "cm-chainmail-mirror");
    expect(envOf(mirror.spec.template.spec.containers[0]).KAFKA_BROKERS).to.equal("cm-chainmail-kafka-kafka-bootstrap:9092");

    const grpc = find(manifests, "Service", "cm-chainmail-relayer-grpc");
    expect(grpc.spec.ports).to.deep.equal([{ name: "grpc", port: 8081, targetPort: "grpc", appProtocol: "grpc" }]);
    const relayer = find(manifests, "StatefulSet", "cm-chainmail-relayer").spec.template.spec.containers[0];
    expect(relayer.ports.map((p: any) => [p.name, p.containerPort])).to.deep.equal([["http", 8080], ["grpc", 8081]]);
    expect(envOf(relayer).CHAINMAIL_GRPC_PORT).to.equal("8081");
    const hpa = find(manifests, "HorizontalPodAutoscaler", "cm-chainmail-relayer");
    expect(hpa.spec.metrics[1]).to.deep.equal({ type: "Pods", pods: { metric: { name: "chainmail_relayer_queue_depth" }, target: { type: "AverageValue", averageValue: "200" } } });
    const monitors = manifests.filter((m) => m.kind === "ServiceMonitor");
    expect(monitors.map((m) => m.spec.selector.matchLabels["app.kubernetes.io/component"]).sort()).to.deep.equal(["mirror", "relayer"]);
    // Each monitor selects exactly one Service (not the relayer's headless one too).
    for (const monitor of monitors) {
      const selected = manifests.filter((m) => m.kind === "Service" && Object.entries(monitor.spec.selector.matchLabels).every(([k, v]) => m.metadata.labels?.[k] === v));
      expect(selected, monitor.metadata.name).to.have.length(1);
    }
  });

  it("renders a Besu QBFT network from deploy/besu/generate.ts: four validators named in the genesis, the relayer and mirror on it", async function () {
    const out = path.join(scratch, "besu");
    const tsx = path.join(REPO_ROOT, "node_modules/.bin/tsx");
    // The relayer's keys first (every ordinal its own), then a genesis funding them all.
    await ok(tsx, [path.join(REPO_ROOT, "deploy/scripts/relayer-keys.ts"), "--out", out, "--release", "cm", "--pods", "3", "--keys-per-pod", "2"]);
    const relayerSecretText = await ok("cat", [path.join(out, "relayer-keys-secret.yaml")]);
    await validate(relayerSecretText, "relayer-keys");
    const relayerSecret = parseAllDocuments(relayerSecretText)[0].toJS() as Manifest;
    expect(relayerSecret.metadata.name).to.equal("cm-chainmail-relayer-keys");
    expect(Object.keys(relayerSecret.stringData)).to.deep.equal(["cm-chainmail-relayer-0", "cm-chainmail-relayer-1", "cm-chainmail-relayer-2"]);
    const signerKeys = Object.values<string>(relayerSecret.stringData).flatMap((k) => k.split("\n"));
    expect(new Set(signerKeys).size).to.equal(6);
    await ok(tsx, [path.join(REPO_ROOT, "deploy/besu/generate.ts"), "--out", out, "--release", "cm", "--fund", new Wallet(devPrivateKey(13)).address, "--fund-secret", path.join(out, "relayer-keys-secret.yaml")]);
    const { text, manifests } = await template(["-f", path.join(CHART, "ci/default-values.yaml"), "-f", path.join(out, "besu-values.yaml")]);
    await validate(text, "besu");
    const secretText = (await ok("cat", [path.join(out, "besu-keys-secret.yaml")]));
    await validate(secretText, "besu-keys");
    const secret = parseAllDocuments(secretText)[0].toJS() as Manifest;
    const besu = find(manifests, "StatefulSet", "cm-chainmail-besu");
    expect(besu.spec.replicas).to.equal(4);
    const genesis = JSON.parse(find(manifests, "ConfigMap", "cm-chainmail-besu-genesis").data["genesis.json"]);
    expect(genesis.config.qbft.blockperiodseconds).to.equal(1);
    expect(genesis.config.zeroBaseFee).to.equal(true);
    const funded = [devPrivateKey(13), ...signerKeys].map((k) => new Wallet(k).address.slice(2).toLowerCase());
    expect(Object.keys(genesis.alloc).sort()).to.deep.equal(funded.sort());
    // Each validator's key in the Secret is the one the genesis names, in pod order.
    const pods = ["cm-chainmail-besu-0", "cm-chainmail-besu-1", "cm-chainmail-besu-2", "cm-chainmail-besu-3"];
    expect(Object.keys(secret.stringData)).to.deep.equal(pods);
    const addresses = pods.map((p) => new Wallet(secret.stringData[p]).address.toLowerCase().slice(2));
    for (const a of addresses) expect(genesis.extraData).to.include(a);
    const args: string[] = besu.spec.template.spec.containers[0].args;
    expect(args).to.include("--node-private-key-file=/var/run/besu/keys/$(POD_NAME)");
    expect(args).to.include("--min-gas-price=0");
    const bootnodes = args.find((a) => a.startsWith("--bootnodes="))!.split("=")[1].split(",");
    expect(bootnodes.map((b) => b.split("@")[1])).to.deep.equal(pods.map((p) => `${p}.cm-chainmail-besu-pods.default.svc.cluster.local:30303`));
    for (const [i, p] of pods.entries()) expect(bootnodes[i]).to.include(new Wallet(secret.stringData[p]).signingKey.publicKey.slice(4));
    const relayer = find(manifests, "StatefulSet", "cm-chainmail-relayer").spec.template.spec.containers[0];
    expect(envOf(relayer)).to.include({ CHAINMAIL_RPC_URL: "http://cm-chainmail-besu-rpc:8545", CHAINMAIL_GAS_MODE: "zero" });
  });

  it("refuses, with a sentence, values that would break a promise: shared keys, a pod without keys, no registry", async function () {
    const base = ["-f", path.join(CHART, "ci/default-values.yaml"), "--set", "relayer.signerKeys.existingSecret="];
    const k = (i: number) => devPrivateKey(20 + i);
    expect(await templateError([...base, "--set", `relayer.signerKeys.keys.0=${k(0)}`, "--set", `relayer.signerKeys.keys.1=${k(1)}\\,${k(0)}`, "--set", "relayer.autoscaling.enabled=false", "--set", "relayer.replicas=2"]))
      .to.include("relayer.signerKeys.keys: ordinals 0 and 1 share a key; two relayer pods with one key would collide on nonces.");
    expect(await templateError([...base, "--set", `relayer.signerKeys.keys.0=${k(0)}`, "--set", `relayer.signerKeys.keys.1=${k(1)}`]))
      .to.include("relayer.signerKeys.keys has no keys for ordinal 2: every relayer pod up to the most the chart can run (6) needs its own.");
    expect(await templateError(["-f", path.join(CHART, "ci/default-values.yaml"), "--set", "chain.registry=0x12"]))
      .to.include("chain.registry is required: the MessageRegistry address (0x and 40 hex digits).");
    expect(await templateError(["--set", "chain.registry=0x5FbDB2315678afecb367f032d93F642f64180aa3", "--set", "kafka.brokers=k:9092", "--set", "relayer.signerKeys.existingSecret=s"]))
      .to.include("chain.rpcUrl is required");
    expect(await templateError(["--set", "chain.registry=0x5FbDB2315678afecb367f032d93F642f64180aa3", "--set", "chain.rpcUrl=http://x:8545", "--set", "kafka.brokers=k:9092"]))
      .to.include("relayer.signerKeys.existingSecret is required");
    // The development Secret: one entry per pod name, each pod's own keys.
    const keys = Array.from({ length: 6 }, (_, i) => ["--set", `relayer.signerKeys.keys.${i}=${k(i)}`]).flat();
    const { manifests } = await template([...base, ...keys]);
    const secret = find(manifests, "Secret", "cm-chainmail-relayer-keys");
    expect(secret.stringData).to.deep.equal(Object.fromEntries(Array.from({ length: 6 }, (_, i) => [`cm-chainmail-relayer-${i}`, k(i)])));
  });

  describe("the rendered relayer and mirror, run with podman kube play", function () {
    let chain: LocalChain;
    let keys: ReturnType<typeof keyFolder>;
    let playFile: string;
    let relayerUrl: string;
    let mirrorMetricsUrl: string;
    let relayerGrpcPort: number;
    const topics = uniqueTopics("kube");
    const brokers = kafkaBrokers().join(",");

    before(async function () {
      await buildImage();
      chain = await startLocalChain();
      const [httpPort, grpcPort, metricsPort] = [await freePort(), await freePort(), await freePort()];
      relayerGrpcPort = grpcPort;
      relayerUrl = `http://127.0.0.1:${httpPort}`;
      mirrorMetricsUrl = `http://127.0.0.1:${metricsPort}/metrics`;
      const { manifests } = await template([
        "-f", path.join(CHART, "ci/podman-values.yaml"),
        "--set", `chain.rpcUrl=${chain.node.url}`, "--set", `chain.registry=${chain.registry}`, "--set", `kafka.brokers=${brokers.replaceAll(",", "\\,")}`,
        "--set", `kafka.topics.messages=${topics.messages}`, "--set", `kafka.topics.membership=${topics.membership}`, "--set", `kafka.topics.cursor=${topics.cursor}`,
        "--set", `relayer.http.port=${httpPort}`, "--set", `relayer.grpc.port=${grpcPort}`, "--set", `mirror.metricsPort=${metricsPort}`,
        "--set", `mirror.env.CHAINMAIL_MIRROR_TRANSACTIONAL_ID=${topics.messages}.mirror`,
      ]);
      // Entries for two ordinals: pod 0 must take its own.
      keys = keyFolder({ "cm-chainmail-relayer-0": devPrivateKey(13), "cm-chainmail-relayer-1": devPrivateKey(14) });
      const pods = statefulSetPods(find(manifests, "StatefulSet", "cm-chainmail-relayer"), keys.dir);
      expect(pods.map((p) => p.metadata.name)).to.deep.equal(["cm-chainmail-relayer-0"]);
      const mirror = structuredClone(find(manifests, "Deployment", "cm-chainmail-mirror"));
      forPodmanHostNetwork(mirror.spec.template.spec);
      playFile = path.join(scratch, "play.yaml");
      writeFileSync(playFile, [...pods, mirror].map((m) => JSON.stringify(m)).join("\n---\n"));
      await podmanOk(["kube", "play", playFile], { timeoutMs: 300_000 });
      await waitFor("the relayer pod to be ready", async () => (await fetch(`${relayerUrl}/readyz`)).ok, { timeoutMs: 90_000, intervalMs: 500 });
    });

    after(async function () {
      if (playFile) {
        if (this.currentTest?.state === "failed") console.log((await podman(["pod", "logs", "--tail", "40", "cm-chainmail-relayer-0"])).stdout);
        await podman(["kube", "down", playFile], { timeoutMs: 120_000 });
      }
      keys?.remove();
      await chain?.stop();
    });

    it("serves /readyz and /healthz, takes a message to the chain and Kafka, and the audit is clean", async function () {
      expect((await fetch(`${relayerUrl}/healthz`)).status).to.equal(200);
      // The gRPC door answers on the port the chart gave it (HTTP/2 cleartext).
      await new Promise<void>((resolve, reject) => {
        const socket = connect(relayerGrpcPort, "127.0.0.1", () => (socket.end(), resolve()));
        socket.once("error", reject);
      });
      const info = (await (await fetch(`${relayerUrl}/v1/info`)).json()) as { signers: string[] };
      expect(info.signers).to.deep.equal([new Wallet(devPrivateKey(13)).address]);
      const alice = new Wallet(chain.alice.privateKey);
      const result = await postMessage({ relayerUrl, signer: alice, channel: "general", text: "hello from a pod" }, { wait: true });
      expect(result.status).to.equal("confirmed");
      const records = await waitFor("the mirror pod to publish the message", async () => {
        const read = await readTopic(testKafka(), topics.messages).catch(() => []);
        return read.length >= 1 ? read : undefined;
      }, { timeoutMs: 60_000, intervalMs: 500 });
      expect(records.map((r) => r.value.seq)).to.deep.equal(["1"]);
      // The mirror's metrics listen on every address (the chart's probes and Prometheus need it).
      const metrics = await (await fetch(mirrorMetricsUrl)).text();
      expect(metrics).to.match(/^chainmail_mirror_events_published_total\{topic="[^"]+"\} [1-9]/m);
      const audited = await ok(path.join(REPO_ROOT, "node_modules/.bin/chainmail"), ["audit", "--rpc-url", chain.node.url, "--registry", chain.registry, "--brokers", brokers, "--topic", topics.messages]);
      expect(audited).to.match(/Kafka .* 1 message events compared\s+ok/);
      expect(audited).to.include("Clean:");
      const containers = (await podmanOk(["ps", "--format", "{{.Names}} {{.Status}}"])).split("\n");
      expect(containers.some((c) => /^cm-chainmail-relayer-0-relayer Up/.test(c)), containers.join("\n")).to.equal(true);
      expect(containers.some((c) => /^cm-chainmail-mirror-pod-\d+-mirror Up/.test(c)), containers.join("\n")).to.equal(true);
    });
  });
});

/**
 * What Kubernetes does that podman 4.3's kube play does not (it has no StatefulSet
 * controller, no Secret volumes and no $(VAR) expansion in env): the controller's pods
 * (with an emptyDir for each volume claim template),
 * one per ordinal named <statefulset>-<ordinal>; the kubelet's Secret volume, here the
 * same files in a host folder; and the kubelet's expansion of $(NAME) from earlier env
 * entries (POD_NAME from metadata.name). Everything else is the rendered spec as is.
 */
function statefulSetPods(statefulSet: Manifest, secretFolder: string): Manifest[] {
  return Array.from({ length: statefulSet.spec.replicas }, (_, ordinal) => {
    const name = `${statefulSet.metadata.name}-${ordinal}`;
    const spec = structuredClone(statefulSet.spec.template.spec);
    for (const container of spec.containers) {
      const known: Record<string, string> = {};
      for (const entry of container.env ?? []) {
        if (entry.valueFrom?.fieldRef?.fieldPath === "metadata.name") known[entry.name] = name;
        if (typeof entry.value === "string") {
          entry.value = entry.value.replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (all: string, v: string) => known[v] ?? all);
          known[entry.name] = entry.value;
        }
      }
    }
    for (const volume of spec.volumes ?? []) {
      if (volume.secret) {
        delete volume.secret;
        volume.hostPath = { path: secretFolder, type: "Directory" };
      }
    }
    // The controller's claim per pod; a pod-lived volume is enough for one run.
    for (const claim of statefulSet.spec.volumeClaimTemplates ?? []) (spec.volumes ??= []).push({ name: claim.metadata.name, emptyDir: {} });
    forPodmanHostNetwork(spec);
    return {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name, labels: { ...statefulSet.spec.template.metadata.labels, "statefulset.kubernetes.io/pod-name": name, "apps.kubernetes.io/pod-index": String(ordinal) } },
      spec: { ...spec, hostname: name },
    };
  });
}

/**
 * podman 4.3 refuses container ports on the host network ("PortMappings can only be used
 * with Bridge or slirp4netns networking"), which Kubernetes accepts: the ports are
 * dropped and the probes' named ports replaced by their numbers.
 */
function forPodmanHostNetwork(spec: any): void {
  for (const container of spec.containers) {
    const numbers = Object.fromEntries((container.ports ?? []).map((p: any) => [p.name, p.containerPort]));
    for (const probe of ["readinessProbe", "livenessProbe", "startupProbe"]) {
      const get = container[probe]?.httpGet;
      if (get && typeof get.port === "string") get.port = numbers[get.port];
    }
    delete container.ports;
  }
}
