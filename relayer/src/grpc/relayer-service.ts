/**
 * chainmail.v1.RelayerService: a thin adapter from gRPC to the relayer's core (the same
 * functions the HTTP routes call). Handlers throw the core's ApiError; the server's
 * interceptor turns it into a gRPC status with ErrorInfo.
 */
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import { createContextKey } from "@connectrpc/connect";
import { channelId, teamNameProblem } from "@chainmail/protocol";
import { RelayerService, type PostMessagesResponseSchema, type PostMessagesRequest } from "@chainmail/protocol/grpc";
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { Logger } from "@chainmail/runtime";
import { channelMessages, listChannels, messageStatus, onAbort, postSigned, shuttingDown, validateSignedMessage, type PostOptions } from "../core.js";
import { ApiError, ErrorCodes } from "../errors.js";
import { followChannel } from "../follow.js";
import type { Services } from "../services.js";
import { channelDeliveries, messageDeliveries, subscribeTeam, unsubscribeTeam, type SubscriptionCaller } from "../teams.js";
import { channelDeliveriesProto, messageDeliveriesProto, outcomeProto, postedProto, signedJsonOf, subscriptionProto } from "./convert.js";
import { abortedCall, refusalOf } from "./errors.js";
import { StreamSlots } from "./stream-slots.js";

/** The client's address (for the per-client rate limit), set from the transport. */
export const CLIENT_ADDRESS = createContextKey<string>("unknown");

/** Requests of one PostMessages stream being worked on at once; reading waits beyond it (backpressure). */
export const STREAM_WINDOW = 1024;
/** How often a stream that waits for the relayer to have room looks again (room freed by other clients wakes nobody). */
const ROOM_POLL_MS = 20;
/** A waiting call answers STATUS_PENDING this long before its deadline, rather than DEADLINE_EXCEEDED. */
const DEADLINE_MARGIN_MS = 100;

function channelOf(nameOrId: string): string {
  try {
    return channelId(nameOrId);
  } catch (error) {
    throw new ApiError(400, ErrorCodes.InvalidRequest, `channel ${(error as Error).message}`);
  }
}

function teamOf(team: string): string {
  const problem = teamNameProblem(team);
  if (problem) throw new ApiError(400, ErrorCodes.InvalidRequest, `team: ${problem}`);
  return team;
}

function digestOf(digest: string): string {
  if (!/^0x[0-9a-fA-F]{64}$/.test(digest)) throw new ApiError(400, ErrorCodes.InvalidRequest, "digest is not 32 bytes, 0x-prefixed hex.");
  return digest;
}

/** The caller as the subscription rule sees it: the peer's address and the `authorization` metadata. */
function callerOf(ctx: HandlerContext): SubscriptionCaller {
  return { ip: ctx.values.get(CLIENT_ADDRESS), authorization: ctx.requestHeader.get("authorization") ?? undefined };
}

export function relayerService(services: Services, logger: Logger, stopping: AbortSignal): ServiceImpl<typeof RelayerService> {
  const { config, metrics } = services;
  const warn: PostOptions["warn"] = (err, message) => logger.warn({ err }, message);
  const subscribeSlots = new StreamSlots("Subscribe streams", config.maxSubscribeStreams, config.maxSubscribeStreamsPerClient);

  function postOptions(ctx: HandlerContext, wait: boolean): PostOptions {
    let waitMs: number | undefined;
    if (wait) {
      const left = ctx.timeoutMs();
      waitMs = left === undefined ? config.waitTimeoutMs : Math.max(0, Math.min(config.waitTimeoutMs, left - DEADLINE_MARGIN_MS));
    }
    return { client: ctx.values.get(CLIENT_ADDRESS), waitMs, signal: ctx.signal, warn };
  }

  return {
    async postMessage(request, ctx) {
      const answer = await postSigned(services, validateSignedMessage(signedJsonOf(request.message)), postOptions(ctx, request.wait));
      return { outcome: outcomeProto(answer) };
    },

    async *postMessages(requests, ctx) {
      // Each message is checked and queued as soon as it arrives; answers leave in
      // request order. At most STREAM_WINDOW are open at once. When the relayer stops,
      // the stream takes no more messages, answers those it took (the drain settles
      // them), then ends UNAVAILABLE saying from which index to send again.
      type Reply = MessageInitShape<typeof PostMessagesResponseSchema>;
      const open: Array<Promise<Reply>> = [];
      let wake: (() => void) | undefined;
      const nudge = () => {
        wake?.();
        wake = undefined;
      };
      const sleep = () => new Promise<void>((resolve) => (wake = resolve));
      const nap = () =>
        new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, ROOM_POLL_MS);
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      let ended = false;
      let stoppedTaking = false;
      let readError: unknown;
      let index = 0n;
      // Wakes the read in progress when the relayer stops. Not a Promise.race against one
      // stream-long promise: each race would leave a reaction on it, one per message.
      let interrupt: (() => void) | undefined;
      const forgetStop = onAbort(stopping, () => {
        interrupt?.();
        nudge();
      });
      type Incoming = IteratorResult<PostMessagesRequest> | "stopped";
      const halted = () => ctx.signal.aborted || stopping.aborted;
      const answer = async (request: PostMessagesRequest, i: bigint): Promise<Reply> => {
        try {
          const json = validateSignedMessage(signedJsonOf(request.message));
          const outcome = await postSigned(services, json, postOptions(ctx, request.wait));
          return { index: i, result: { case: "outcome", value: outcomeProto(outcome) } };
        } catch (error) {
          const r = refusalOf(error);
          metrics.precheckRejections.inc({ code: r.reason || "Unknown" });
          return { index: i, result: { case: "refusal", value: { grpcCode: r.code, reason: r.reason, message: r.message, retryAfterMs: r.retryAfterMs ?? 0 } } };
        }
      };
      const reading = (async () => {
        const incoming = requests[Symbol.asyncIterator]();
        try {
          for (;;) {
            const next = stopping.aborted
              ? "stopped"
              : await new Promise<Incoming>((resolve, reject) => {
                  interrupt = () => resolve("stopped");
                  // Left behind when the relayer stops first: its outcome no longer matters.
                  incoming.next().then(resolve, reject);
                });
            interrupt = undefined;
            if (next === "stopped") {
              stoppedTaking = true;
              break;
            }
            if (next.done) break;
            while (open.length >= STREAM_WINDOW && !halted()) await sleep();
            // A stream is backpressure's natural place: while the relayer is full, stop
            // reading (HTTP/2 flow control holds the client) instead of refusing each
            // message Overloaded as a one-shot request must be.
            while (!services.load.hasRoom && !halted()) await nap();
            if (halted()) {
              stoppedTaking = !ctx.signal.aborted;
              break;
            }
            open.push(answer(next.value, index++));
            nudge();
          }
        } catch (error) {
          readError = error;
        } finally {
          ended = true;
          nudge();
        }
      })();
      try {
        while (!ctx.signal.aborted) {
          const next = open[0];
          if (next) {
            const reply = await next;
            open.shift();
            nudge();
            metrics.grpcStreamMessages.inc({ method: "PostMessages" });
            yield reply;
            continue;
          }
          if (ended) break;
          await sleep();
        }
      } finally {
        forgetStop();
      }
      if (ctx.signal.aborted) throw abortedCall(ctx.signal);
      await reading;
      if (readError) throw readError;
      if (stoppedTaking) {
        throw shuttingDown(`The relayer is shutting down: it took this stream's messages before index ${index} and sent their outcomes; send those from index ${index} on again, here or to another relayer.`);
      }
    },

    async getMessageStatus(request) {
      return { outcome: outcomeProto(await messageStatus(services, digestOf(request.digest), warn)) };
    },

    async listChannels() {
      return { channels: await listChannels(services) };
    },

    async listMessages(request) {
      const page = await channelMessages(services, channelOf(request.channel), request.fromSeq > 0n ? request.fromSeq : 1n, request.limit === 0 ? 50 : request.limit);
      return { channel: page.channel, seq: page.seq, messages: page.messages.map(postedProto), nextFromSeq: page.nextFromSeq ?? 0n };
    },

    async *subscribe(request, ctx) {
      const signal = AbortSignal.any([ctx.signal, stopping]);
      let next = request.fromSeq > 0n ? request.fromSeq : 1n;
      const release = subscribeSlots.take(ctx.values.get(CLIENT_ADDRESS));
      try {
        for await (const m of followChannel(services, channelOf(request.channel), next, { signal })) {
          next = m.seq + 1n;
          metrics.grpcStreamMessages.inc({ method: "Subscribe" });
          yield { message: postedProto(m) };
        }
      } finally {
        release();
      }
      if (ctx.signal.aborted) throw abortedCall(ctx.signal);
      if (stopping.aborted) {
        throw shuttingDown(`The relayer is shutting down; subscribe again (here or to another relayer) with from_seq ${next}.`);
      }
    },

    async subscribeTeam(request, ctx) {
      const { subscription, created } = await subscribeTeam(services, callerOf(ctx), teamOf(request.team), channelOf(request.channel));
      return { subscription: subscriptionProto(subscription), created };
    },

    async unsubscribeTeam(request, ctx) {
      return { subscription: subscriptionProto(await unsubscribeTeam(services, callerOf(ctx), teamOf(request.team), channelOf(request.channel))) };
    },

    async listSubscriptions(request) {
      const filter = { team: request.team === "" ? undefined : teamOf(request.team), channel: request.channel === "" ? undefined : channelOf(request.channel) };
      return { subscriptions: services.teams.get().subscriptions(filter).map(subscriptionProto) };
    },

    async getMessageDeliveries(request) {
      return messageDeliveriesProto(await messageDeliveries(services, digestOf(request.digest)));
    },

    async getChannelDeliveries(request) {
      return channelDeliveriesProto(await channelDeliveries(services, channelOf(request.channel)));
    },
  };
}
