/**
 * The ChainMail client SDK: sign a message for the relayer's registry, post it, and
 * keep sending the same signed message until a definitive outcome comes back.
 *
 * Why retry the same bytes: the relayer is stateless and a 202 is only a promise to
 * try. If it restarts, the message may be lost before it is mined; sending the same
 * signed message again is safe because the registry refuses a used nonce and the
 * relayer answers a known message with its first outcome. So the retry loop here is
 * what turns "at most once" into "exactly once".
 */
import type { Static, TSchema } from "@sinclair/typebox";
import { Value } from "@sinclair/typebox/value";
import type { Signer } from "ethers";
import {
  bodyFromText,
  ChainMailError,
  channelId,
  ChannelList,
  ChannelMessages,
  ConfirmedOutcome,
  contentTypeCode,
  ErrorReply,
  Info,
  PendingOutcome,
  defaultNonceSource,
  RejectedOutcome,
  signMessage,
  type Channel,
  type PostedMessageJson,
  type RegistryLocation,
  type SignedMessage,
  type SignedMessageJson,
  ChannelDeliveries,
  MessageDeliveries,
  Subscription,
  SubscriptionList,
} from "@chainmail/protocol";
import { Type } from "@sinclair/typebox";

/** GET /v1/info's answer: the chain and registry to sign for. */
export type RelayerInfo = Info;
export type ConfirmedResult = ConfirmedOutcome;
export type PendingResult = PendingOutcome;
/** A rejection, on-chain or by a pre-check, with the HTTP status it came with. */
export type RejectedResult = RejectedOutcome & { httpStatus: number };
export type PostResult = ConfirmedResult | RejectedResult | PendingResult;

export interface RetryOptions {
  /** Give up (throw NoOutcomeError) after this long without a definitive outcome. */
  timeoutMs?: number;
  initialDelayMs?: number;
  maxDelayMs?: number;
  /** How long one waiting request may be held by the relayer. */
  requestTimeoutMs?: number;
}

export interface PostOptions {
  /**
   * true (default): return only a definitive outcome (confirmed or rejected), retrying
   * through relayer restarts. false: return as soon as the relayer accepted (202),
   * which is not a guarantee that the message will land.
   */
  wait?: boolean;
  retry?: RetryOptions;
  /** Called before each retry, e.g. to log. */
  onRetry?: (attempt: number, reason: string) => void;
}

export interface PostMessageInput {
  relayerUrl: string;
  signer: Signer;
  /** A channel name (up to 31 bytes) or a 0x-prefixed 32-byte id. */
  channel: string;
  text?: string;
  /** 0x-prefixed hex bytes; use instead of text for binary bodies. */
  body?: string;
  contentType?: string | number;
  replyTo?: bigint | number;
  nonce?: bigint;
  /**
   * Where the nonce comes from when `nonce` is not given: by default this process's
   * NonceSource (one claimed bitmap word per author, see @chainmail/protocol nonces.ts),
   * so an author's messages share storage words on-chain.
   */
  nonces?: { next(author: string): bigint };
  timestamp?: bigint;
}

/** No definitive outcome within the retry budget: the message may or may not land later. */
export class NoOutcomeError extends ChainMailError {
  override name = "NoOutcomeError";

  constructor(
    readonly digest: string,
    readonly lastProblem: string,
  ) {
    super("NoOutcome", `No definitive outcome for message ${digest} in time (last problem: ${lastProblem}). Send the same signed message again later; it will never be posted twice.`);
  }
}

/** The relayer refused: its HTTP status, and the `code` and sentence it answered with. */
export class RelayerError extends ChainMailError {
  override name = "RelayerError";

  constructor(
    readonly httpStatus: number,
    code: string,
    message: string,
  ) {
    super(code, message);
  }
}

function baseUrl(url: string): string {
  return url.replace(/\/+$/, "");
}

async function readJson(response: Response): Promise<Record<string, unknown>> {
  const text = await response.text();
  try {
    const json: unknown = JSON.parse(text);
    if (typeof json === "object" && json !== null && !Array.isArray(json)) return json as Record<string, unknown>;
  } catch {
    // answered below, as for any body that is not a JSON object
  }
  return { code: "BadResponse", message: `The relayer answered ${response.status} with a body that is not a JSON object.` };
}

/**
 * The answer as the API's schema declares it, or a RelayerError: a relayer that answers
 * outside its own schema (a bug, a proxy, a hostile server) is never taken at its word.
 */
function answerOf<T extends TSchema>(schema: T, json: Record<string, unknown>, response: Response): Static<T> {
  if (Value.Check(schema, json)) return json;
  const problem = Value.Errors(schema, json).First();
  const where = problem ? ` (${problem.path || "/"}: ${problem.message})` : "";
  throw new RelayerError(response.status, "BadResponse", `The relayer's answer does not match the API${where}.`);
}

/** The error a non-2xx answer carries. */
function errorOf(json: Record<string, unknown>, response: Response): RelayerError {
  const reply = Value.Check(ErrorReply, json) ? json : { code: "BadResponse", message: `The relayer answered ${response.status}.` };
  return new RelayerError(response.status, reply.code, reply.message);
}

/** GET /v1/info: the chain and registry to sign for. */
export async function getInfo(relayerUrl: string): Promise<RelayerInfo> {
  const response = await fetch(`${baseUrl(relayerUrl)}/v1/info`);
  const json = await readJson(response);
  if (!response.ok) throw errorOf(json, response);
  return answerOf(Info, json, response);
}

export function locationOf(info: RelayerInfo): RegistryLocation {
  return { chainId: BigInt(info.chainId), address: info.registry };
}

/** The JSON body POST /v1/messages takes. */
export function signedMessageJson(m: SignedMessage): SignedMessageJson {
  return {
    channel: m.channel,
    author: m.author,
    body: m.body,
    contentType: m.contentType,
    timestamp: m.timestamp.toString(),
    replyTo: m.replyTo.toString(),
    nonce: m.nonce.toString(),
    signature: m.signature,
  };
}

/** Builds and signs a message for the relayer's registry (reads /v1/info). */
export async function signForRelayer(input: PostMessageInput, info?: RelayerInfo): Promise<{ signed: SignedMessage; info: RelayerInfo }> {
  const relayerInfo = info ?? (await withRetry(() => getInfo(input.relayerUrl), input.relayerUrl));
  if ((input.text === undefined) === (input.body === undefined)) throw new Error("Give exactly one of text and body.");
  const body = input.text !== undefined ? bodyFromText(input.text) : input.body!;
  const author = await input.signer.getAddress();
  const signed = await signMessage(input.signer, locationOf(relayerInfo), {
    channel: channelId(input.channel),
    author,
    body,
    contentType: contentTypeCode(input.contentType ?? (input.text !== undefined ? "text/plain" : "application/octet-stream")),
    timestamp: input.timestamp ?? BigInt(Math.floor(Date.now() / 1000)),
    replyTo: BigInt(input.replyTo ?? 0),
    nonce: input.nonce ?? (input.nonces ?? defaultNonceSource).next(author),
  });
  return { signed, info: relayerInfo };
}

/** Signs and posts a message; see PostOptions for what `wait` promises. */
export async function postMessage(input: PostMessageInput, options: PostOptions = {}): Promise<PostResult> {
  const { signed } = await signForRelayer(input);
  return submitSigned(input.relayerUrl, signed, options);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function withRetry<T>(fn: () => Promise<T>, what: string, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let delay = 200;
  for (;;) {
    try {
      return await fn();
    } catch (error) {
      if (error instanceof RelayerError && error.httpStatus < 500 && error.httpStatus !== 429) throw error;
      if (Date.now() + delay > deadline) throw new Error(`Cannot reach the relayer at ${what}: ${(error as Error).message}`);
      await sleep(delay);
      delay = Math.min(delay * 2, 2000);
    }
  }
}

/**
 * Posts an already signed message and retries the same bytes until a definitive
 * outcome: on network errors, 5xx/503 (restart, shutdown, chain down), 429 (after
 * Retry-After), and when a 202'd message's status turns unknown (404).
 */
export async function submitSigned(relayerUrl: string, signed: SignedMessage, options: PostOptions = {}): Promise<PostResult> {
  const wait = options.wait ?? true;
  const retry = options.retry ?? {};
  const timeoutMs = retry.timeoutMs ?? 120_000;
  const maxDelay = retry.maxDelayMs ?? 2_000;
  const requestTimeoutMs = retry.requestTimeoutMs ?? 60_000;
  const deadline = Date.now() + timeoutMs;
  const url = baseUrl(relayerUrl);
  const payload = JSON.stringify(signedMessageJson(signed));
  let delay = retry.initialDelayMs ?? 100;
  let attempt = 0;
  let digest = "(not yet known)";
  let lastProblem = "none";
  let needPost = true;

  const pause = async (reason: string, retryAfterSeconds?: number) => {
    lastProblem = reason;
    attempt++;
    options.onRetry?.(attempt, reason);
    const ms = retryAfterSeconds !== undefined ? Math.max(retryAfterSeconds * 1000, delay) : delay;
    if (Date.now() + ms > deadline) throw new NoOutcomeError(digest, lastProblem);
    await sleep(ms);
    delay = Math.min(delay * 2, maxDelay);
  };

  for (;;) {
    let response: Response;
    try {
      response = needPost
        ? await fetch(`${url}/v1/messages${wait ? "?wait=true" : ""}`, {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: payload,
            signal: AbortSignal.timeout(requestTimeoutMs),
          })
        : await fetch(`${url}/v1/messages/${digest}`, { signal: AbortSignal.timeout(requestTimeoutMs) });
    } catch (error) {
      needPost = true; // the relayer may be a new process: send the message itself again
      await pause(`cannot reach the relayer: ${(error as Error).message}`);
      continue;
    }
    const json = await readJson(response);
    if (typeof json.digest === "string") digest = json.digest;
    const status = json.status;
    if (status === "confirmed") return answerOf(ConfirmedOutcome, json, response);
    if (status === "rejected") return { ...answerOf(RejectedOutcome, json, response), httpStatus: response.status };
    if (status === "pending") {
      if (!wait) return answerOf(PendingOutcome, json, response);
      // Accepted but not settled yet: follow the status, not re-post (cheaper).
      needPost = false;
      await pause("the message is still pending");
      continue;
    }
    if (response.status === 404 && !needPost) {
      // The relayer forgot it (restart before mining): send the same bytes again.
      needPost = true;
      await pause("the relayer no longer knows the message");
      continue;
    }
    if (response.status === 429 || response.status >= 500) {
      needPost = true;
      const retryAfter = Number(response.headers.get("retry-after") ?? "NaN");
      const error = errorOf(json, response);
      await pause(`${response.status} ${error.code}: ${error.message}`, Number.isFinite(retryAfter) ? retryAfter : undefined);
      continue;
    }
    // Any other 4xx: a pre-check refused the message; sending it again cannot help.
    const error = errorOf(json, response);
    return { status: "rejected", digest, code: error.code, message: error.message, httpStatus: response.status };
  }
}

/** GET /v1/messages/{digest}. */
export async function getMessageStatus(relayerUrl: string, digest: string): Promise<PostResult | undefined> {
  const response = await fetch(`${baseUrl(relayerUrl)}/v1/messages/${digest}`);
  const json = await readJson(response);
  if (response.status === 404) return undefined;
  if (json.status === "rejected") return { ...answerOf(RejectedOutcome, json, response), httpStatus: response.status };
  if (!response.ok) throw errorOf(json, response);
  if (json.status === "pending") return answerOf(PendingOutcome, json, response);
  return answerOf(ConfirmedOutcome, json, response);
}

export type ChannelMessage = PostedMessageJson;
export type ChannelPage = ChannelMessages;
export type ChannelSummary = Channel;

/** One page of a channel's messages (name or id). */
export async function listChannel(relayerUrl: string, channel: string, { fromSeq = 1, limit = 50 }: { fromSeq?: number; limit?: number } = {}): Promise<ChannelPage> {
  const response = await fetch(`${baseUrl(relayerUrl)}/v1/channels/${channelId(channel)}/messages?fromSeq=${fromSeq}&limit=${limit}`);
  const json = await readJson(response);
  if (!response.ok) throw errorOf(json, response);
  return answerOf(ChannelMessages, json, response);
}

export async function listChannels(relayerUrl: string): Promise<ChannelSummary[]> {
  const response = await fetch(`${baseUrl(relayerUrl)}/v1/channels`);
  const json = await readJson(response);
  if (!response.ok) throw errorOf(json, response);
  return answerOf(ChannelList, json, response).channels;
}

const SubscriptionReply = Type.Object({ subscription: Subscription });

/** Team subscriptions and deliveries (see the relayer's /v1/subscriptions and .../deliveries). */
export type TeamSubscription = Subscription;
export type MessageDeliveryView = MessageDeliveries;
export type ChannelDeliveryView = ChannelDeliveries;

async function teamsCall<T extends TSchema>(schema: T, url: string, init: RequestInit = {}): Promise<Static<T>> {
  const response = await fetch(url, init);
  const json = await readJson(response);
  if (!response.ok) throw errorOf(json, response);
  return answerOf(schema, json, response);
}

function authorization(token?: string): Record<string, string> {
  return token ? { authorization: `Bearer ${token}` } : {};
}

/** Subscribes a team to a channel (name or id); `created` is false when it already was. */
export async function subscribeTeam(relayerUrl: string, team: string, channel: string, { token }: { token?: string } = {}): Promise<{ subscription: TeamSubscription; created: boolean }> {
  const response = await fetch(`${baseUrl(relayerUrl)}/v1/subscriptions/${encodeURIComponent(team)}/${channelId(channel)}`, { method: "PUT", headers: authorization(token) });
  const json = await readJson(response);
  if (!response.ok) throw errorOf(json, response);
  return { subscription: answerOf(SubscriptionReply, json, response).subscription, created: response.status === 201 };
}

/** Removes a team's subscription to a channel. */
export async function unsubscribeTeam(relayerUrl: string, team: string, channel: string, { token }: { token?: string } = {}): Promise<TeamSubscription> {
  const url = `${baseUrl(relayerUrl)}/v1/subscriptions/${encodeURIComponent(team)}/${channelId(channel)}`;
  return (await teamsCall(SubscriptionReply, url, { method: "DELETE", headers: authorization(token) })).subscription;
}

export async function listSubscriptions(relayerUrl: string, filter: { team?: string; channel?: string } = {}): Promise<TeamSubscription[]> {
  const query = new URLSearchParams();
  if (filter.team) query.set("team", filter.team);
  if (filter.channel) query.set("channel", channelId(filter.channel));
  return (await teamsCall(SubscriptionList, `${baseUrl(relayerUrl)}/v1/subscriptions${query.size ? `?${query}` : ""}`)).subscriptions;
}

/** Which subscribed teams have the message with this digest. */
export async function messageDeliveries(relayerUrl: string, digest: string): Promise<MessageDeliveryView> {
  return teamsCall(MessageDeliveries, `${baseUrl(relayerUrl)}/v1/messages/${digest}/deliveries`);
}

/** Each subscribed team's last delivered seq and lag in a channel. */
export async function channelDeliveries(relayerUrl: string, channel: string): Promise<ChannelDeliveryView> {
  return teamsCall(ChannelDeliveries, `${baseUrl(relayerUrl)}/v1/channels/${channelId(channel)}/deliveries`);
}
