/**
 * /healthz (the process answers), /readyz (it can do its job: chain reachable,
 * registry deployed at the address, every signer funded where gas costs money) and
 * /v1/info (what a client needs to sign for this relayer's registry).
 */
import type { FastifyInstance } from "fastify";
import { Type } from "@sinclair/typebox";
import { formatEther } from "ethers";
import { shortError } from "../chain.js";
import { ErrorReply, Info } from "@chainmail/protocol";
import type { Services } from "../services.js";

const Readiness = Type.Object({
  ready: Type.Boolean(),
  checks: Type.Array(Type.Object({ name: Type.String(), ok: Type.Boolean(), detail: Type.String() })),
});

/** /readyz answers within this, ready or not. */
export const READY_DEADLINE_MS = 800;

type Check = { name: string; ok: boolean; detail: string };

export default async function healthRoutes(app: FastifyInstance, { services }: { services: Services }) {
  const { chain, submitter, config } = services;
  let chainChecks: Promise<Check[]> | undefined;

  async function chainReadiness(): Promise<Check[]> {
    const checks: Check[] = [];
    try {
      const block = await chain.provider.getBlockNumber();
      checks.push({ name: "chain", ok: true, detail: `chain ${chain.location.chainId} at block ${block}` });
      const code = await chain.provider.getCode(chain.location.address);
      checks.push({
        name: "registry",
        ok: code !== "0x",
        detail: code !== "0x" ? `registry at ${chain.location.address}` : `no contract at ${chain.location.address}`,
      });
      const paid = await submitter.fees.gasCostsMoney();
      const zeroGas = await submitter.fees.zeroGasVerdict();
      if (zeroGas) checks.push({ name: "zero gas", ok: zeroGas.ok, detail: zeroGas.detail });
      for (const lane of submitter.lanes) {
        const balance = await chain.provider.getBalance(lane.address);
        const ok = !paid || balance >= config.minSignerBalanceWei;
        checks.push({
          name: `signer ${lane.address}`,
          ok,
          detail: paid ? `balance ${formatEther(balance)} (needs ${formatEther(config.minSignerBalanceWei)})` : "gas is free on this chain",
        });
      }
    } catch (error) {
      checks.push({ name: "chain", ok: false, detail: `cannot reach the chain: ${shortError(error)}` });
    }
    return checks;
  }

  app.get(
    "/healthz",
    { schema: { summary: "Liveness: the process answers", tags: ["health"], response: { 200: Type.Object({ status: Type.String() }) } } },
    async () => ({ status: "ok" }),
  );

  app.get(
    "/readyz",
    {
      schema: {
        summary: "Readiness: chain reachable, registry found, signers funded",
        tags: ["health"],
        response: { 200: Readiness, 503: Readiness },
      },
    },
    async (_request, reply) => {
      // Answers within READY_DEADLINE_MS whatever the chain does; the chain's checks are
      // shared by concurrent probes, so a paused node collects one set of calls, not one per probe.
      chainChecks ??= chainReadiness().finally(() => (chainChecks = undefined));
      let timer: ReturnType<typeof setTimeout> | undefined;
      const late = new Promise<Check[]>((resolve) => {
        timer = setTimeout(() => resolve([{ name: "chain", ok: false, detail: `no answer from the chain within ${READY_DEADLINE_MS} ms` }]), READY_DEADLINE_MS);
      });
      const checks = [...(await Promise.race([chainChecks, late]))];
      clearTimeout(timer);
      if (submitter.isStopping) checks.push({ name: "shutdown", ok: false, detail: "the relayer is shutting down" });
      const ready = checks.every((c) => c.ok);
      return reply.code(ready ? 200 : 503).send({ ready, checks });
    },
  );

  app.get(
    "/v1/info",
    {
      schema: {
        summary: "Chain id, registry address and limits: what a client signs for",
        tags: ["info"],
        response: { 200: Info, 503: ErrorReply },
      },
    },
    async () => {
      const limits = await chain.limits();
      return {
        chainId: chain.location.chainId.toString(),
        registry: chain.location.address,
        deploymentBlock: chain.deploymentBlock,
        limits,
        batch: { maxSize: config.batchMaxSize, maxWaitMs: config.batchMaxWaitMs },
        signers: submitter.lanes.map((l) => l.address),
      };
    },
  );
}
