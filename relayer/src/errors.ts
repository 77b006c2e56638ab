/**
 * Every refusal the API gives: an HTTP status, a machine-readable `code` and a
 * sentence. Codes that match an on-chain check reuse the registry's reason names, so a
 * client handles "NotMember" the same whether the relayer or the contract caught it.
 */
import { ChainMailError, reasonSentence, type ReasonName } from "@chainmail/protocol";

export class ApiError extends ChainMailError {
  override name = "ApiError";

  constructor(
    readonly statusCode: number,
    code: string,
    message: string,
    readonly headers: Record<string, string> = {},
    readonly extra: Record<string, unknown> = {},
  ) {
    super(code, message);
  }
}

/** HTTP status for a check that mirrors an on-chain reason. */
const REASON_STATUS: Partial<Record<ReasonName, number>> = {
  UnknownChannel: 404,
  ChannelClosed: 409,
  NotMember: 403,
  EmptyBody: 422,
  BodyTooLarge: 413,
  UnknownContentType: 422,
  TimestampInFuture: 422,
  MessageExpired: 422,
  UnknownReply: 422,
  NonceUsed: 409,
  BadSignature: 422,
};

export function reasonError(reason: ReasonName, detail?: string): ApiError {
  return new ApiError(REASON_STATUS[reason] ?? 422, reason, detail ? `${reasonSentence(reason)} ${detail}` : reasonSentence(reason));
}

export const ErrorCodes = {
  InvalidRequest: "InvalidRequest",
  PayloadTooLarge: "PayloadTooLarge",
  UnsupportedMediaType: "UnsupportedMediaType",
  RateLimited: "RateLimited",
  TooManyStreams: "TooManyStreams",
  Overloaded: "Overloaded",
  HeadersTooLarge: "HeadersTooLarge",
  RequestTimeout: "RequestTimeout",
  UriTooLong: "UriTooLong",
  UnknownMessage: "UnknownMessage",
  NotFound: "NotFound",
  ShuttingDown: "ShuttingDown",
  SubmitFailed: "SubmitFailed",
  ChainUnavailable: "ChainUnavailable",
  JournalUnavailable: "JournalUnavailable",
  KafkaUnavailable: "KafkaUnavailable",
  DeliveriesDisabled: "DeliveriesDisabled",
  NotSubscribed: "NotSubscribed",
  Unauthorized: "Unauthorized",
  Forbidden: "Forbidden",
  Internal: "Internal",
} as const;
