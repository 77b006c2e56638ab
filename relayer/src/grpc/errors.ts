/**
 * Refusals through gRPC: the same ApiError the HTTP API sends, as a gRPC status code
 * that fits, with a google.rpc.ErrorInfo whose reason is the HTTP API's `code` (and a
 * google.rpc.RetryInfo where the HTTP answer has Retry-After).
 */
import { create, type DescMessage } from "@bufbuild/protobuf";
import { DurationSchema } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import { RpcError } from "@chainmail/chain";
import { ERROR_DOMAIN, ErrorInfoSchema, RetryInfoSchema } from "@chainmail/protocol/grpc";
import { ApiError, ErrorCodes } from "../errors.js";
import { ChainBreakError } from "../follow.js";

/** Codes whose gRPC status is not the one their HTTP status suggests. */
const CODE_STATUS: Record<string, Code> = {
  NotMember: Code.PermissionDenied,
  NonceUsed: Code.AlreadyExists,
  ChannelClosed: Code.FailedPrecondition,
  MessageExpired: Code.FailedPrecondition,
  RateLimited: Code.ResourceExhausted,
};

function statusOf(error: ApiError): Code {
  const byCode = CODE_STATUS[error.code];
  if (byCode !== undefined) return byCode;
  const s = error.statusCode;
  if (s === 401) return Code.Unauthenticated;
  if (s === 403) return Code.PermissionDenied;
  if (s === 404) return Code.NotFound;
  if (s === 409) return Code.FailedPrecondition;
  if (s === 429) return Code.ResourceExhausted;
  if (s === 503) return Code.Unavailable;
  if (s >= 400 && s < 500) return Code.InvalidArgument;
  return Code.Internal;
}

/** A refusal as gRPC status, reason, sentence and retry delay (also what a stream's Refusal carries). */
export interface GrpcRefusal {
  code: Code;
  reason: string;
  message: string;
  retryAfterMs?: number;
  metadata: Record<string, string>;
}

export function refusalOf(error: unknown): GrpcRefusal {
  if (error instanceof ConnectError) return { code: error.code, reason: "", message: error.rawMessage, metadata: {} };
  if (error instanceof ApiError) {
    const retry = error.headers["retry-after"];
    const metadata: Record<string, string> = { httpStatus: String(error.statusCode) };
    for (const [key, value] of Object.entries(error.extra)) metadata[key] = String(value);
    return { code: statusOf(error), reason: error.code, message: error.message, retryAfterMs: retry ? Number(retry) * 1000 : undefined, metadata };
  }
  if (error instanceof ChainBreakError) {
    return { code: Code.DataLoss, reason: error.kind, message: `${error.message} The chain node's answer failed verification; the stream stops here.`, metadata: { seq: String(error.seq) } };
  }
  if (error instanceof RpcError) {
    return { code: Code.Unavailable, reason: ErrorCodes.ChainUnavailable, message: "The relayer cannot read the chain right now; ask again shortly.", retryAfterMs: 2000, metadata: {} };
  }
  return { code: Code.Internal, reason: ErrorCodes.Internal, message: "The relayer failed unexpectedly; the error is logged. Ask again.", metadata: {} };
}

export function connectErrorOf(error: unknown): ConnectError {
  if (error instanceof ConnectError) return error;
  const r = refusalOf(error);
  const details: Array<{ desc: DescMessage; value: object }> = [
    { desc: ErrorInfoSchema, value: { reason: r.reason, domain: ERROR_DOMAIN, metadata: r.metadata } },
  ];
  if (r.retryAfterMs !== undefined) {
    const retryDelay = create(DurationSchema, { seconds: BigInt(Math.floor(r.retryAfterMs / 1000)), nanos: (r.retryAfterMs % 1000) * 1e6 });
    details.push({ desc: RetryInfoSchema, value: { retryDelay } });
  }
  return new ConnectError(r.message, r.code, undefined, details as ConstructorParameters<typeof ConnectError>[3], error);
}

/**
 * The status of a stream stopped by its call's signal: the deadline passed
 * (DEADLINE_EXCEEDED) or the client left (CANCELLED). Never OK, which would tell the
 * client the stream had completed.
 */
export function abortedCall(signal: AbortSignal): ConnectError {
  return ConnectError.from(signal.reason, Code.Canceled);
}
