/**
 * The one error chain access throws. `kind` says what went wrong on the way (the node
 * answered with a JSON-RPC error object, the call timed out, HTTP or the network
 * failed, or the answer was not JSON-RPC); `rpcCode` is the node's JSON-RPC error code
 * when it gave one, so callers can branch on it instead of on wording. Like every
 * ChainMail error it has a string `code` (one per kind) and a `cause`.
 */
import { ChainMailError } from "@chainmail/protocol";

export type RpcErrorKind = "rpc" | "timeout" | "http" | "network" | "malformed";

const CODES: Record<RpcErrorKind, string> = {
  rpc: "RpcError",
  timeout: "RpcTimeout",
  http: "RpcHttpError",
  network: "NodeUnreachable",
  malformed: "RpcMalformedAnswer",
};

export class RpcError extends ChainMailError {
  override name = "RpcError";
  readonly kind: RpcErrorKind;
  /** The JSON-RPC error code (e.g. -32005), when the node answered with an error object. */
  readonly rpcCode?: number;
  /** The error object's `data` (revert data, for example). */
  readonly data?: unknown;
  /** The HTTP status, when the node answered with one other than 2xx. */
  readonly status?: number;
  readonly method: string;

  constructor(
    message: string,
    details: { kind: RpcErrorKind; method: string; code?: number; data?: unknown; status?: number; cause?: unknown },
  ) {
    super(CODES[details.kind], message, { cause: details.cause });
    this.kind = details.kind;
    this.method = details.method;
    this.rpcCode = details.code;
    this.data = details.data;
    this.status = details.status;
  }
}

/**
 * Failures worth the same request again: a timeout, a dropped connection, an
 * overloaded or rate-limiting node. ethers' equivalents count too, for callers
 * that hand the log reader an ethers provider.
 */
export function isTransient(error: unknown): boolean {
  if (error instanceof RpcError) {
    if (error.kind === "timeout" || error.kind === "network") return true;
    if (error.kind === "http") return error.status === 429 || (error.status ?? 0) >= 500;
    return error.rpcCode === 429; // some providers' "rate limited" error object
  }
  const code = (error as { code?: unknown } | null)?.code;
  return code === "TIMEOUT" || code === "NETWORK_ERROR" || code === "SERVER_ERROR";
}

/**
 * The node refuses the block range or the size of the answer. Nodes word this
 * differently ("query returned more than 10000 results" on geth, "block range is too
 * wide", "exceed maximum block range", "Log response size exceeded", HTTP 413); all of
 * them mean "ask for fewer blocks". The wording decides, not the code: -32005 also
 * means "rate limited" on some endpoints.
 */
export function isRangeTooLarge(error: unknown): boolean {
  if (error instanceof RpcError) {
    if (error.kind === "http") return error.status === 413;
    if (error.kind !== "rpc") return false;
  }
  const message = String((error as { message?: unknown } | null)?.message ?? error);
  return /block range|range (is )?too (large|wide|big)|too many (results|logs|blocks)|more than \d+ (results|logs)|response size|exceed(s|ed)? (the )?(maximum|max|limit)|limit exceeded|too large/i.test(
    message,
  );
}
