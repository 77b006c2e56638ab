/**
 * grpc.health.v1.Health: SERVING while the relayer takes messages, NOT_SERVING once it
 * is shutting down; for the whole server ("") and for chainmail.v1.RelayerService.
 */
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import { health, RelayerService } from "@chainmail/protocol/grpc";
import { abortedCall } from "./errors.js";

const { Health, HealthCheckResponse_ServingStatus: Status } = health;

export function healthService(stopping: AbortSignal): ServiceImpl<typeof Health> {
  const known = ["", RelayerService.typeName];
  const status = () => (stopping.aborted ? Status.NOT_SERVING : Status.SERVING);
  return {
    check(request) {
      if (!known.includes(request.service)) throw new ConnectError(`No service ${request.service} here.`, Code.NotFound);
      return { status: status() };
    },
    async *watch(request, ctx) {
      if (!known.includes(request.service)) {
        yield { status: Status.SERVICE_UNKNOWN };
      } else {
        yield { status: status() };
        if (stopping.aborted) return;
        await new Promise<void>((resolve) => {
          const signal = AbortSignal.any([stopping, ctx.signal]);
          signal.addEventListener("abort", () => resolve(), { once: true });
        });
        if (!ctx.signal.aborted) yield { status: Status.NOT_SERVING };
      }
      // Watch stays open until the client leaves.
      if (!ctx.signal.aborted) await new Promise<void>((resolve) => ctx.signal.addEventListener("abort", () => resolve(), { once: true }));
      throw abortedCall(ctx.signal);
    },
    list() {
      return { statuses: Object.fromEntries(known.map((service) => [service, { status: status() }])) };
    },
  };
}
