/**
 * The ChainMail client SDK: sign a message for the relayer's registry, post it, and
 * keep sending the same signed message until a definitive outcome comes back.
 *
 * Why retry the same bytes: a 202 means the relayer persisted the message and finishes
 * it after a restart, but a relayer can lose its disk, run without a journal, or stay
 * down; sending the same signed message again (to it or to another relayer) is safe
 * because the registry refuses a used nonce and a relayer answers a known message with
 * its first outcome. So this retry loop is the second line of defence that turns
 * "accepted" into "exactly once".
 *
 * Several relayers: give `relayerUrl` a list. A network failure or a 5xx moves to the
 * next one (a 4xx does not: another relayer would refuse the same message the same
 * way). GET /v1/info is read once per relayer and cached, not per message.
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
  /**
   * The chain and registry the message was signed for: when failing over, a relayer
   * serving another one (by its cached /v1/info) is skipped. postMessage sets it.
   */
  signedFor?: RegistryLocation;
}

/** One relayer's base URL, or several to fail over between (tried in order). */
export type RelayerUrls = string | readonly string[];

export interface PostMessageInput {
  relayerUrl: RelayerUrls;
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

function urlList(urls: RelayerUrls): string[] {
  const list = (typeof urls === "string" ? urls.split(",") : [...urls]).map((u) => baseUrl(u.trim())).filter(Boolean);
  if (list.length === 0) throw new Error("Give at least one relayer URL.");
  return list;
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
  const response = await fetch(`${baseUrl(relayerUrl)}/v1/info`, { signal: AbortSignal.timeout(10_000) });
  const json = await readJson(response);
  if (!response.ok) throw errorOf(json, response);
  return answerOf(Info, json, response);
}

const infoCache = new Map<string, Promise<RelayerInfo>>();

/**
 * GET /v1/info, once per relayer: the chain and registry do not change under a running
 * relayer. A failed read is not kept; forgetInfo() drops an answer that turned out stale.
 */
export function cachedInfo(relayerUrl: string): Promise<RelayerInfo> {
  const key = baseUrl(relayerUrl);
  let info = infoCache.get(key);
  if (!info) {
    info = getInfo(key);
    infoCache.set(key, info);
    info.catch(() => infoCache.delete(key));
  }
  return info;
}

/** Drops the cached /v1/info of one relayer (or of all). */
export function forgetInfo(relayerUrl?: string): void {
  if (relayerUrl === undefined) infoCache.clear();
  else infoCache.delete(baseUrl(relayerUrl));
}

/** The info of the first relayer that answers, trying each in turn (bounded by timeoutMs). */
async function firstInfo(urls: string[], timeoutMs = 30_000): Promise<{ url: string; info: RelayerInfo }> {
  let i = 0;
  return withRetry(async () => {
    const url = urls[i++ % urls.length];
    return { url, info: await cachedInfo(url) };
  }, urls.join(", "), timeoutMs, urls.length);
}

function sameLocation(a: RegistryLocation, b: RegistryLocation): boolean {
  return a.chainId === b.chainId && a.address.toLowerCase() === b.address.toLowerCase();
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

/** Builds and signs a message for the relayer's registry (its /v1/info, cached; the first relayer that answers). */
export async function signForRelayer(input: PostMessageInput, info?: RelayerInfo): Promise<{ signed: SignedMessage; info: RelayerInfo }> {
  const relayerInfo = info ?? (await firstInfo(urlList(input.relayerUrl))).info;
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

/**
 * Signs and posts a message; see PostOptions for what `wait` promises. If a relayer
 * says the signature is for another chain or registry (a cached /v1/info gone stale:
 * the registry was redeployed), the info is read again and the message signed anew, once.
 */
export async function postMessage(input: PostMessageInput, options: PostOptions = {}): Promise<PostResult> {
  const urls = urlList(input.relayerUrl);
  const { signed, info } = await signForRelayer(input);
  const result = await submitSigned(urls, signed, { ...options, signedFor: locationOf(info) });
  if (result.status !== "rejected" || result.code !== "BadSignature" || result.transactionHash) return result;
  forgetInfo();
  const fresh = await firstInfo(urls);
  if (sameLocation(locationOf(fresh.info), locationOf(info))) return result;
  const again = await signForRelayer(input, fresh.info);
  return submitSigned(urls, again.signed, { ...options, signedFor: locationOf(fresh.info) });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Retries `fn` on network errors, 5xx and 429; with `rounds` > 1, sleeps only after that many failures in a row (one per relayer). */
async function withRetry<T>(fn: () => Promise<T>, what: string, timeoutMs = 30_000, rounds = 1): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let delay = 200;
  for (let failures = 1; ; failures++) {
    try {
      return await fn();
    } catch (error) {
      if (error instanceof RelayerError && error.httpStatus < 500 && error.httpStatus !== 429) throw error;
      if (failures % rounds !== 0) continue;
      if (Date.now() + delay > deadline) throw new Error(`Cannot reach the relayer at ${what}: ${(error as Error).message}`);
      await sleep(delay);
      delay = Math.min(delay * 2, 2000);
    }
  }
}

/**
 * Posts an already signed message and retries the same bytes until a definitive
 * outcome: on network errors and 5xx/503 (restart, shutdown, chain down) it moves to the
 * next relayer of the list (back to the first after the last; it pauses once every
 * relayer has failed in a row), on 429 it waits Retry-After on the same relayer, and
 * when a 202'd message's status turns unknown (404) it sends it again. Any other 4xx is
 * the answer: another relayer would refuse the same bytes the same way.
 */
export async function submitSigned(relayerUrl: RelayerUrls, signed: SignedMessage, options: PostOptions = {}): Promise<PostResult> {
  const wait = options.wait ?? true;
  const retry = options.retry ?? {};
  const timeoutMs = retry.timeoutMs ?? 120_000;
  const maxDelay = retry.maxDelayMs ?? 2_000;
  const requestTimeoutMs = retry.requestTimeoutMs ?? 60_000;
  const deadline = Date.now() + timeoutMs;
  const urls = urlList(relayerUrl);
  let current = 0;
  let failuresInARow = 0;
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

  /** This relayer failed (network, 5xx): the next one that serves our registry, at once; a pause once all have failed. */
  const failOver = async (reason: string, retryAfterSeconds?: number) => {
    needPost = true;
    failuresInARow++;
    if (urls.length > 1) {
      for (let step = 1; step <= urls.length; step++) {
        const candidate = (current + step) % urls.length;
        if (!options.signedFor || (await servesLocation(urls[candidate], options.signedFor))) {
          current = candidate;
          break;
        }
      }
    }
    if (failuresInARow % urls.length !== 0) {
      lastProblem = reason;
      attempt++;
      options.onRetry?.(attempt, `${reason}; trying ${urls[current]}`);
      if (Date.now() > deadline) throw new NoOutcomeError(digest, lastProblem);
      return;
    }
    await pause(reason, retryAfterSeconds);
  };

  for (;;) {
    const url = urls[current];
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
      // The relayer may be down or a new process: send the message itself (again), elsewhere if we can.
      await failOver(`cannot reach the relayer at ${url}: ${(error as Error).message}`);
      continue;
    }
    const json = await readJson(response);
    if (typeof json.digest === "string") digest = json.digest;
    const status = json.status;
    if (status === "confirmed") return answerOf(ConfirmedOutcome, json, response);
    if (status === "rejected") return { ...answerOf(RejectedOutcome, json, response), httpStatus: response.status };
    if (status === "pending") {
      failuresInARow = 0;
      if (!wait) return answerOf(PendingOutcome, json, response);
      // Accepted but not settled yet: follow the status, not re-post (cheaper).
      needPost = false;
      await pause("the message is still pending");
      continue;
    }
    if (response.status === 404 && !needPost) {
      // The relayer forgot it (restart without its journal): send the same bytes again.
      needPost = true;
      await pause("the relayer no longer knows the message");
      continue;
    }
    if (response.status === 429) {
      needPost = true;
      const retryAfter = Number(response.headers.get("retry-after") ?? "NaN");
      const error = errorOf(json, response);
      await pause(`${response.status} ${error.code}: ${error.message}`, Number.isFinite(retryAfter) ? retryAfter : undefined);
      continue;
    }
    if (response.status >= 500) {
      const error = errorOf(json, response);
      const retryAfter = Number(response.headers.get("retry-after") ?? "NaN");
      await failOver(`${url} answered ${response.status} ${error.code}: ${error.message}`, Number.isFinite(retryAfter) ? retryAfter : undefined);
      continue;
    }
    // Any other 4xx: a pre-check refused the message; sending it again cannot help.
    const error = errorOf(json, response);
    return { status: "rejected", digest, code: error.code, message: error.message, httpStatus: response.status };
  }
}

/** Whether the relayer serves this chain and registry (by its cached info); an unreachable one does not, for now. */
async function servesLocation(url: string, location: RegistryLocation): Promise<boolean> {
  try {
    return sameLocation(locationOf(await cachedInfo(url)), location);
  } catch {
    return false;
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
