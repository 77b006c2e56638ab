/**
 * grpc.health.v1.Health: SERVING while the relayer takes messages, NOT_SERVING once it
 * is shutting down; for the whole server ("") and for chainmail.v1.RelayerService.
 * Watch calls end at the stop (UNAVAILABLE, after NOT_SERVING).
 */
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import { health, RelayerService } from "@chainmail/protocol/grpc";
import { shuttingDown } from "../core.js";
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
      // Open until the client leaves, for an unknown service too (as the protocol asks),
      // or until the relayer stops: then NOT_SERVING, and the call ends UNAVAILABLE, so
      // that no watcher holds the shutdown (the protocol has clients watch again, with
      // backoff, after any status but UNIMPLEMENTED).
      const isKnown = known.includes(request.service);
      const first = isKnown ? status() : Status.SERVICE_UNKNOWN;
      yield { status: first };
      const signal = AbortSignal.any([stopping, ctx.signal]);
      if (!signal.aborted) await new Promise<void>((resolve) => signal.addEventListener("abort", () => resolve(), { once: true }));
      if (ctx.signal.aborted) throw abortedCall(ctx.signal);
      if (first === Status.SERVING) yield { status: Status.NOT_SERVING };
      throw shuttingDown("The relayer is shutting down; watch another relayer.");
    },
    list() {
      return { statuses: Object.fromEntries(known.map((service) => [service, { status: status() }])) };
    },
  };
}
