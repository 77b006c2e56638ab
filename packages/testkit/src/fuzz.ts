/**
 * Property-based fuzzing of `POST /v1/messages` (fast-check), shared by the relayer's
 * fuzz test (bounded count) and `pnpm fuzz` (the long run): one set of generators, one
 * judge, one set of end-of-run checks.
 *
 * The generators produce two families of requests:
 * - random input: any JSON value, objects with the message's field names and random
 *   values, text that is not JSON;
 * - almost-valid signed messages: a message correctly signed by a channel member with a
 *   fresh nonce (so it WOULD land), then one thing wrong with it (a field changed after
 *   signing, a byte flipped, re-signed with a value the registry refuses, a field
 *   missing, extra, of the wrong type, out of range, non-hex, unicode...). Plus exact
 *   re-sends of messages already on-chain ("duplicate": valid, must answer their first
 *   outcome and cost nothing).
 *
 * So every request of a run is either invalid or an already-confirmed duplicate, and the
 * properties are exact: no 5xx but the documented 503s, every 4xx in the error shape
 * ({code, message}), nothing invalid accepted, and over the whole run no transaction at
 * all (the relayer signer's nonce, the block number and the registry's MessageRejected
 * events do not move), the relayer alive at the end.
 */
import fc from "fast-check";
import { Wallet, type JsonRpcProvider } from "ethers";
import { signedMessageJson } from "@chainmail/client";
import { bodyFromText, DEFAULT_LIMITS, digestOf, MESSAGE_REJECTED_TOPIC, type RegistryLocation, type SignedMessage } from "@chainmail/protocol";
import { createChannelWithMembers, deployRegistry } from "./deploy.js";
import { devPrivateKey } from "./dev-keys.js";
import { startHardhatNode, type RunningNode } from "./hardhat-node.js";
import { ChainmailProcess } from "./chainmail-process.js";

/** 503 codes the API documents as "retry later" (README, OpenAPI): the only 5xx a client may see. */
export const DOCUMENTED_503_CODES: ReadonlySet<string> = new Set(["ShuttingDown", "ChainUnavailable", "SubmitFailed", "Overloaded", "JournalUnavailable"]);

export interface FuzzContext {
  location: RegistryLocation;
  /** The channel (id) whose members sign. */
  channel: string;
  members: Wallet[];
  /** A funded account that is not a member. */
  outsider: Wallet;
  /** Messages already confirmed on-chain (for duplicates and used nonces). */
  confirmed: Array<SignedMessage & { digest: string }>;
  maxBodyBytes: number;
  maxAge: number;
  maxFutureSkew: number;
  /** The relayer's largest HTTP body (CHAINMAIL_HTTP_BODY_LIMIT). */
  httpBodyLimit: number;
}

/** One request: what it tests, its raw body and content type. */
export interface FuzzCase {
  kind: string;
  detail: string;
  body: string;
  contentType?: string;
  /** Appended to /v1/messages (a query string, a path suffix). */
  path?: string;
  headers?: Record<string, string>;
  /** Set for an exact re-send of a confirmed message: it must answer 200 confirmed with this digest. */
  duplicateOf?: string;
}

const FIELDS = ["channel", "author", "body", "contentType", "timestamp", "replyTo", "nonce", "signature"] as const;
type Field = (typeof FIELDS)[number];
type WireMessage = Record<string, unknown>;
type UnsignedFields = Omit<SignedMessage, "signature" | "author">;

/**
 * Signs synchronously (the signing key over the protocol's digest): generators stay
 * synchronous and replayable, and load runs sign thousands of messages without awaiting.
 */
export function signMessageSync(wallet: Pick<Wallet, "address" | "signingKey">, location: RegistryLocation, m: UnsignedFields): SignedMessage {
  const message = { ...m, author: wallet.address };
  return { ...message, signature: wallet.signingKey.sign(digestOf(location, message)).serialized };
}

const nowSeconds = () => BigInt(Math.floor(Date.now() / 1000));

function hexOfBytes(bytes: Uint8Array): string {
  return "0x" + Buffer.from(bytes).toString("hex");
}

function flipHexByte(hex: string, index: number, mask: number): string {
  const bytes = Buffer.from(hex.slice(2), "hex");
  if (bytes.length === 0) return hex;
  bytes[index % bytes.length] ^= mask;
  return "0x" + bytes.toString("hex");
}

const caseOf = (kind: string, detail: string, wire: WireMessage, extra: Partial<FuzzCase> = {}): FuzzCase => ({ kind, detail, body: JSON.stringify(wire), ...extra });

/** Every generator of requests, by kind; `fuzzCases` mixes them. */
export function fuzzArbitraries(ctx: FuzzContext): Record<string, fc.Arbitrary<FuzzCase>> {
  const { location } = ctx;
  // A message that would land as it is: a member, the channel, a fresh nonce far above
  // the ones the set-up used, a timestamp inside the window.
  const base = fc
    .record({
      author: fc.nat(ctx.members.length - 1),
      text: fc.string({ minLength: 1, maxLength: 80, unit: "grapheme" }),
      nonce: fc.bigInt(1n << 64n, (1n << 255n) - 1n),
      contentType: fc.constantFrom(1, 2, 3),
      skew: fc.integer({ min: -300, max: 30 }),
    })
    .map(({ author, text, nonce, contentType, skew }) => ({
      wallet: ctx.members[author],
      fields: { channel: ctx.channel, body: bodyFromText(text), contentType, timestamp: nowSeconds() + BigInt(skew), replyTo: 0n, nonce },
    }));
  const signed = base.map(({ wallet, fields }) => signMessageSync(wallet, location, fields));
  const field = fc.constantFrom<Field>(...FIELDS);
  // Signed again after the change: the signature is right, the value is what must be refused.
  const resign = <T>(extra: fc.Arbitrary<T>, kind: string, change: (f: UnsignedFields, x: T) => { fields: UnsignedFields; wallet?: Wallet; location?: RegistryLocation; detail: string }) =>
    fc.tuple(base, extra).map(([b, x]) => {
      const changed = change(b.fields, x);
      return caseOf(kind, changed.detail, signedMessageJson(signMessageSync(changed.wallet ?? b.wallet, changed.location ?? location, changed.fields)));
    });

  const weirdNumbers = fc.constantFrom<unknown>(
    "18446744073709551616", // 2^64
    "115792089237316195423570985008687907853269984665640564039457584007913129639936", // 2^256
    "9".repeat(100),
    "-1",
    "1e3",
    "0x10",
    "01",
    " 1",
    "+1",
    "1.5",
    "",
    1.5,
    -1,
    1e308,
    Number.MAX_SAFE_INTEGER + 2,
    256,
    -0,
    "NaN",
    "Infinity",
  );
  const wrongTypes = fc.oneof(
    fc.constantFrom<unknown>(null, true, false, [], {}, 0, "", [1, 2], { value: 1 }),
    fc.integer(),
    fc.double(),
    fc.jsonValue(),
  );
  const unicodeChars = fc.oneof(
    fc.constantFrom("\u0660", "\uff10", "\uff41", "\u200b", "\u00e9", "\u{1f4ec}", "\u0000", "\ud800", "\u202e", "x", "G", " ", "\n"),
    fc.string({ minLength: 1, maxLength: 3, unit: "grapheme" }).filter((s) => !/^[0-9a-fA-F]+$/.test(s)),
  );

  return {
    "random-json": fc.jsonValue({ maxDepth: 4 }).map((v) => ({ kind: "random-json", detail: "", body: JSON.stringify(v) ?? "null" })),
    "random-object": fc
      .record(Object.fromEntries(FIELDS.map((k) => [k, fc.oneof(fc.jsonValue({ maxDepth: 2 }), fc.string(), fc.string({ maxLength: 140, unit: fc.constantFrom(..."0123456789abcdef") }).map((h) => "0x" + h))])) as Record<Field, fc.Arbitrary<unknown>>, { requiredKeys: [] })
      .map((o) => caseOf("random-object", Object.keys(o).join(","), o)),
    "random-text": fc.string({ maxLength: 300, unit: "binary" }).map((s) => ({ kind: "random-text", detail: "", body: s })),
    "not-json": fc.tuple(signed, fc.nat(), fc.constantFrom("truncated", "trailing", "single-quotes", "comment")).map(([m, at, how]) => {
      const text = JSON.stringify(signedMessageJson(m));
      const body =
        how === "truncated" ? text.slice(0, at % text.length) : how === "trailing" ? text + "}" : how === "single-quotes" ? text.replace(/"/g, "'") : "/*x*/" + text;
      return { kind: "not-json", detail: how, body };
    }),
    "wrong-nonce": fc.tuple(signed, fc.bigInt(1n, 1n << 64n)).map(([m, d]) => caseOf("wrong-nonce", `+${d}`, { ...signedMessageJson(m), nonce: (BigInt(m.nonce) + d).toString() })),
    "bad-signature": fc
      .tuple(signed, fc.nat(64), fc.integer({ min: 1, max: 255 }), fc.constantFrom("flip", "v0", "v29", "high-s", "zeros", "random"), fc.uint8Array({ minLength: 65, maxLength: 65 }))
      .map(([m, i, mask, how, random]) => {
        const sig = Buffer.from(m.signature.slice(2), "hex");
        if (how === "flip") sig[i] ^= mask;
        if (how === "v0") sig[64] = 0;
        if (how === "v29") sig[64] = 29;
        if (how === "high-s") {
          // The malleable twin of a valid signature: s' = n - s, v flipped. ecrecover accepts it; the registry must not.
          const n = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
          const s = BigInt("0x" + sig.subarray(32, 64).toString("hex"));
          sig.set(Buffer.from((n - s).toString(16).padStart(64, "0"), "hex"), 32);
          sig[64] = sig[64] === 27 ? 28 : 27;
        }
        if (how === "zeros") sig.fill(0);
        if (how === "random") sig.set(random);
        return caseOf("bad-signature", how, { ...signedMessageJson(m), signature: "0x" + sig.toString("hex") });
      }),
    "flipped-body-byte": fc.tuple(signed, fc.nat(), fc.integer({ min: 1, max: 255 })).map(([m, i, mask]) => caseOf("flipped-body-byte", `${i}^${mask}`, { ...signedMessageJson(m), body: flipHexByte(m.body, i, mask) })),
    "wrong-channel": fc.tuple(base, fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.boolean()).map(([b, id, resigned]) => {
      const other = hexOfBytes(id);
      if (resigned) return caseOf("wrong-channel", "signed for an unknown channel", signedMessageJson(signMessageSync(b.wallet, location, { ...b.fields, channel: other })));
      return caseOf("wrong-channel", "changed after signing", { ...signedMessageJson(signMessageSync(b.wallet, location, b.fields)), channel: other });
    }),
    "non-member": base.map((b) => caseOf("non-member", ctx.outsider.address, signedMessageJson(signMessageSync(ctx.outsider, location, b.fields)))),
    "author-swap": fc.tuple(signed, fc.nat(ctx.members.length - 1)).map(([m, i]) => {
      const other = ctx.members.find((w) => w.address !== m.author && ctx.members.indexOf(w) >= i) ?? ctx.outsider;
      return caseOf("author-swap", other.address, { ...signedMessageJson(m), author: other.address });
    }),
    "wrong-domain": resign(fc.tuple(fc.boolean(), fc.uint8Array({ minLength: 20, maxLength: 20 })), "wrong-domain", (f, [chain, address]) =>
      chain
        ? { fields: f, location: { ...location, chainId: BigInt(location.chainId) + 1n }, detail: "another chain id" }
        : { fields: f, location: { ...location, address: hexOfBytes(address) }, detail: "another registry" },
    ),
    "oversized-body": resign(fc.integer({ min: 1, max: 512 }), "oversized-body", (f, extra) => ({
      fields: { ...f, body: "0x" + "61".repeat(ctx.maxBodyBytes + extra) },
      detail: `${ctx.maxBodyBytes + extra} bytes`,
    })),
    "over-http-limit": fc.tuple(signed, fc.integer({ min: 1, max: 4096 })).map(([m, extra]) =>
      caseOf("over-http-limit", `${ctx.httpBodyLimit + extra} bytes`, { ...signedMessageJson(m), body: "0x" + "62".repeat(Math.ceil((ctx.httpBodyLimit + extra) / 2)) }),
    ),
    "empty-body": resign(fc.constant(0), "empty-body", (f) => ({ fields: { ...f, body: "0x" }, detail: "" })),
    "used-nonce": fc.tuple(base, fc.nat()).map(([b, i]) => {
      const first = ctx.confirmed[i % ctx.confirmed.length];
      const wallet = ctx.members.find((w) => w.address === first.author)!;
      return caseOf("used-nonce", first.nonce.toString(), signedMessageJson(signMessageSync(wallet, location, { ...b.fields, nonce: first.nonce })));
    }),
    expired: resign(fc.integer({ min: 60, max: 1_000_000 }), "expired", (f, k) => ({ fields: { ...f, timestamp: nowSeconds() - BigInt(ctx.maxAge + k) }, detail: `${ctx.maxAge + k} s old` })),
    future: resign(fc.integer({ min: 60, max: 1_000_000 }), "future", (f, k) => ({ fields: { ...f, timestamp: nowSeconds() + BigInt(ctx.maxFutureSkew + k) }, detail: `${ctx.maxFutureSkew + k} s ahead` })),
    "unknown-content-type": resign(fc.oneof(fc.constant(0), fc.integer({ min: 4, max: 255 })), "unknown-content-type", (f, t) => ({ fields: { ...f, contentType: t }, detail: String(t) })),
    "unknown-reply": resign(fc.bigInt(1_000_000n, (1n << 64n) - 1n), "unknown-reply", (f, r) => ({ fields: { ...f, replyTo: r }, detail: r.toString() })),
    "bad-hex": fc
      .tuple(signed, fc.constantFrom<Field>("channel", "author", "body", "signature"), fc.constantFrom("no-0x", "odd", "0X", "insert"), fc.nat(), unicodeChars)
      .map(([m, name, how, at, ch]) => {
        const value = String(signedMessageJson(m)[name]);
        const broken =
          how === "no-0x" ? value.slice(2) : how === "odd" ? value.slice(0, -1) : how === "0X" ? "0X" + value.slice(2) : value.slice(0, 2 + (at % (value.length - 1))) + (/^[0-9a-fA-F]+$/.test(ch) ? "g" : ch) + value.slice(2 + (at % (value.length - 1)));
        return caseOf("bad-hex", `${name} ${how}`, { ...signedMessageJson(m), [name]: broken });
      }),
    unicode: fc.tuple(signed, field, fc.nat(), unicodeChars).map(([m, name, at, ch]) => {
      const value = String(signedMessageJson(m)[name]);
      const i = at % (value.length + 1);
      const withChar = value.slice(0, i) + ch + value.slice(i);
      return caseOf("unicode", `${name} +${JSON.stringify(ch)}`, { ...signedMessageJson(m), [name]: withChar });
    }),
    "missing-field": fc.tuple(signed, field).map(([m, name]) => {
      const wire = signedMessageJson(m);
      delete wire[name];
      return caseOf("missing-field", name, wire);
    }),
    "extra-field": fc
      .tuple(signed, fc.oneof(fc.string({ minLength: 1, maxLength: 12 }), fc.constantFrom("__proto__", "constructor", "prototype", "digest", "status", "Nonce")), fc.jsonValue({ maxDepth: 2 }))
      .filter(([, key]) => !(FIELDS as readonly string[]).includes(key))
      .map(([m, key, value]) => {
        // JSON.stringify drops a "__proto__" own key set by assignment; write the text by hand.
        const text = JSON.stringify(signedMessageJson(m));
        return { kind: "extra-field", detail: key, body: `${text.slice(0, -1)},${JSON.stringify(key)}:${JSON.stringify(value) ?? "null"}}` };
      }),
    "duplicate-key": fc
      .tuple(signed, field, wrongTypes)
      // The same value twice would be a valid message (it would land): not this kind's case.
      .filter(([m, name, value]) => JSON.stringify(value) !== JSON.stringify(signedMessageJson(m)[name]))
      .map(([m, name, value]) => {
        // The changed value comes last, where JSON.parse (and Fastify's parser) take it from;
        // a relayer that took the first would post an ambiguous request, and the run flags it.
        const text = JSON.stringify(signedMessageJson(m));
        return { kind: "duplicate-key", detail: name, body: `${text.slice(0, -1)},${JSON.stringify(name)}:${JSON.stringify(value) ?? "null"}}` };
      }),
    "wrong-type": fc
      .tuple(signed, field, wrongTypes)
      .filter(([m, name, value]) => JSON.stringify(value) !== JSON.stringify(signedMessageJson(m)[name]))
      .map(([m, name, value]) => caseOf("wrong-type", `${name}=${JSON.stringify(value)?.slice(0, 40)}`, { ...signedMessageJson(m), [name]: value })),
    "huge-number": fc
      .tuple(signed, fc.constantFrom<Field>("contentType", "timestamp", "replyTo", "nonce"), weirdNumbers)
      .filter(([m, name, value]) => JSON.stringify(value) !== JSON.stringify(signedMessageJson(m)[name]))
      .map(([m, name, value]) => caseOf("huge-number", `${name}=${JSON.stringify(value)?.slice(0, 40)}`, { ...signedMessageJson(m), [name]: value })),
    "media-type": fc
      .tuple(signed, fc.constantFrom("text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/xml", "application/octet-stream"))
      // A message that would land, sent as something other than JSON: refused, never parsed and posted.
      .map(([m, type]) => ({ kind: "media-type", detail: type, body: JSON.stringify(signedMessageJson(m)), contentType: type })),
    "odd-request": fc
      .tuple(
        signed,
        fc.nat(64),
        fc.oneof(
          fc.constantFrom("?wait=%zz", "?wait=true&wait=false", "?wait[]=1", "?%", "/", "//", "/..", "?wait=" + "1".repeat(2000), "?" + "a=b&".repeat(1000), "/%00", "/../info", "?__proto__[x]=1"),
          fc.string({ maxLength: 40, unit: "binary" }).map((q) => "?wait=" + encodeURIComponent(q)),
          fc.string({ maxLength: 40, unit: "binary-ascii" }).map((q) => "?" + q.replace(/[#\s]/g, "")),
        ),
        fc.option(fc.constantFrom("wait", "wait=0", "wait=99999999999999999999", "wait=-1", "wait=abc", "return=minimal, wait=1", "wait=\u00e9"), { nil: undefined }),
      )
      // A message with a broken signature, so that whatever the query does, nothing may be sent.
      .map(([m, i, path, prefer]) => ({
        kind: "odd-request",
        detail: `${path.slice(0, 40)}${prefer ? ` Prefer: ${prefer}` : ""}`,
        body: JSON.stringify({ ...signedMessageJson(m), signature: flipHexByte(m.signature, i, 1) }),
        path,
        headers: prefer ? { prefer } : undefined,
      })),
    duplicate: fc.nat().map((i) => {
      const m = ctx.confirmed[i % ctx.confirmed.length];
      return caseOf("duplicate", m.digest, signedMessageJson(m), { duplicateOf: m.digest });
    }),
  };
}

/** Every kind, equally likely. */
export function fuzzCases(ctx: FuzzContext): fc.Arbitrary<FuzzCase> {
  return fc.oneof(...Object.values(fuzzArbitraries(ctx)));
}

export interface FuzzAnswer {
  status: number;
  text: string;
}

/** Why an answer breaks a property, or undefined when it holds. */
export function judgeAnswer(c: FuzzCase, answer: FuzzAnswer): string | undefined {
  let json: Record<string, unknown> | undefined;
  try {
    const parsed: unknown = JSON.parse(answer.text);
    if (parsed && typeof parsed === "object" && !Array.isArray(parsed)) json = parsed as Record<string, unknown>;
  } catch {
    // judged below as "not in the error shape"
  }
  const inErrorShape = !!json && typeof json.code === "string" && json.code.length > 0 && typeof json.message === "string" && json.message.length > 0;
  if (answer.status >= 500) {
    if (answer.status === 503 && inErrorShape && DOCUMENTED_503_CODES.has(String(json!.code))) return undefined;
    return `answered ${answer.status} ${answer.text.slice(0, 300)} (only the documented 503s may be 5xx)`;
  }
  if (answer.status >= 400 && !inErrorShape) return `answered ${answer.status} outside the error shape {code, message}: ${answer.text.slice(0, 300)}`;
  if (c.duplicateOf) {
    if (answer.status === 429) return undefined;
    if (answer.status !== 200 || json?.status !== "confirmed" || json?.digest !== c.duplicateOf) return `a confirmed message sent again answered ${answer.status} ${answer.text.slice(0, 300)}, not its first outcome`;
    return undefined;
  }
  if (answer.status < 400) return `accepted an invalid request: ${answer.status} ${answer.text.slice(0, 300)}`;
  return undefined;
}

/** What must not move while only invalid requests and duplicates are sent. */
export interface ChainSnapshot {
  blockNumber: number;
  signerNonces: Record<string, { latest: number; pending: number }>;
}

export async function chainSnapshot(provider: JsonRpcProvider, signers: string[]): Promise<ChainSnapshot> {
  const signerNonces: ChainSnapshot["signerNonces"] = {};
  for (const s of signers) {
    signerNonces[s] = { latest: await provider.getTransactionCount(s, "latest"), pending: await provider.getTransactionCount(s, "pending") };
  }
  return { blockNumber: await provider.getBlockNumber(), signerNonces };
}

/** Problems between two snapshots, plus any MessageRejected event the registry emitted after `before`. */
export async function chainUntouched(provider: JsonRpcProvider, registry: string, before: ChainSnapshot, after: ChainSnapshot): Promise<string[]> {
  const problems: string[] = [];
  for (const [signer, was] of Object.entries(before.signerNonces)) {
    const now = after.signerNonces[signer];
    if (now.latest !== was.latest || now.pending !== was.pending) problems.push(`the relayer signer ${signer} sent transactions: nonce ${was.latest}/${was.pending} -> ${now.latest}/${now.pending} (latest/pending)`);
  }
  if (after.blockNumber !== before.blockNumber) problems.push(`the chain moved from block ${before.blockNumber} to ${after.blockNumber}`);
  const rejected = await provider.getLogs({ address: registry, topics: [MESSAGE_REJECTED_TOPIC], fromBlock: before.blockNumber + 1, toBlock: "latest" });
  if (rejected.length > 0) problems.push(`the registry emitted ${rejected.length} MessageRejected events (gas spent on invalid messages)`);
  return problems;
}

export interface FuzzRunOptions {
  url: string;
  ctx: FuzzContext;
  count: number;
  seed?: number;
  /** Called every `progressEvery` requests. */
  onProgress?: (done: number) => void;
  progressEvery?: number;
}

export interface FuzzRunResult {
  seed: number;
  runs: number;
  /** "status code" -> count, e.g. "400 InvalidRequest". */
  byStatus: Record<string, number>;
  /** kind -> "status code" -> count. */
  byKind: Record<string, Record<string, number>>;
  /** The first property violation (after shrinking), with the request that caused it. */
  violation?: { error: string; counterexample: FuzzCase };
}

async function send(url: string, c: FuzzCase): Promise<FuzzAnswer> {
  const response = await fetch(`${url}/v1/messages${c.path ?? ""}`, {
    method: "POST",
    headers: { "content-type": c.contentType ?? "application/json", ...c.headers },
    body: c.body,
    signal: AbortSignal.timeout(60_000),
  });
  return { status: response.status, text: await response.text() };
}

/** Sends `count` generated requests, one at a time, judging each answer; stops at the first violation and shrinks it. */
export async function runMessageFuzz(options: FuzzRunOptions): Promise<FuzzRunResult> {
  const seed = options.seed ?? Date.now() ^ (Math.random() * 0x7fffffff);
  const byStatus: Record<string, number> = {};
  const byKind: Record<string, Record<string, number>> = {};
  let runs = 0;
  let shrinking = false;
  const property = fc.asyncProperty(fuzzCases(options.ctx), async (c) => {
    let answer: FuzzAnswer;
    try {
      answer = await send(options.url, c);
    } catch (error) {
      // A refused oversized body may be answered before it is read and the connection
      // closed: a transport error there is the server protecting itself, if it still answers.
      const alive = await fetch(`${options.url}/healthz`, { signal: AbortSignal.timeout(10_000) }).then((r) => r.ok, () => false);
      if (!alive) throw new Error(`the relayer stopped answering after this request (${(error as Error).message})`);
      if (c.kind !== "over-http-limit") throw new Error(`the request failed without an answer: ${(error as Error).cause ?? (error as Error).message}`);
      answer = { status: 0, text: `transport error: ${(error as Error).message}` };
    }
    if (!shrinking) {
      runs++;
      let code = "";
      try {
        code = String((JSON.parse(answer.text) as { code?: string; status?: string }).code ?? (JSON.parse(answer.text) as { status?: string }).status ?? "");
      } catch {
        code = answer.status === 0 ? "transport" : "(not JSON)";
      }
      const key = `${answer.status} ${code}`.trim();
      byStatus[key] = (byStatus[key] ?? 0) + 1;
      (byKind[c.kind] ??= {})[key] = (byKind[c.kind][key] ?? 0) + 1;
      if (options.onProgress && runs % (options.progressEvery ?? 1000) === 0) options.onProgress(runs);
    }
    const problem = judgeAnswer(c, answer);
    if (problem) {
      shrinking = true;
      throw new Error(problem);
    }
  });
  const details = await fc.check(property, { numRuns: options.count, seed, endOnFailure: false });
  const result: FuzzRunResult = { seed, runs, byStatus, byKind };
  if (details.failed && details.counterexample) {
    result.violation = { error: details.errorInstance instanceof Error ? details.errorInstance.message : String(details.errorInstance), counterexample: details.counterexample[0] };
  }
  return result;
}

export interface FuzzStack {
  node: RunningNode;
  relayer: ChainmailProcess;
  ctx: FuzzContext;
  registry: string;
  /** The relayer's signer addresses. */
  signers: string[];
  stop(): Promise<void>;
}

/**
 * A hardhat node, a registry with a channel of three members, a relayer process (rate
 * limits off, so that answers are about the message, not the pace), and `confirmedCount`
 * messages landed through it: the target of a fuzz run.
 */
export async function startFuzzStack({ confirmedCount = 3, relayerEnv = {} }: { confirmedCount?: number; relayerEnv?: Record<string, string> } = {}): Promise<FuzzStack> {
  const node = await startHardhatNode();
  let relayer: ChainmailProcess | undefined;
  try {
    const deployer = new Wallet(devPrivateKey(0), node.provider);
    const admin = new Wallet(devPrivateKey(1), node.provider);
    const members = [2, 3, 4].map((i) => new Wallet(devPrivateKey(i), node.provider));
    const outsider = new Wallet(devPrivateKey(6), node.provider);
    const limits = { ...DEFAULT_LIMITS, maxAge: 86_400 };
    const deployed = await deployRegistry(deployer, limits);
    const channel = await createChannelWithMembers(deployed.registry, "fuzz", admin, members.map((m) => m.address));
    const signerKey = devPrivateKey(10);
    const httpBodyLimit = 65_536;
    relayer = ChainmailProcess.relayer({
      CHAINMAIL_RPC_URL: node.url,
      CHAINMAIL_REGISTRY: deployed.address,
      CHAINMAIL_SIGNER_KEYS: signerKey,
      CHAINMAIL_RATE_AUTHOR_PER_S: "0",
      CHAINMAIL_RATE_CLIENT_PER_S: "0",
      CHAINMAIL_HTTP_BODY_LIMIT: String(httpBodyLimit),
      CHAINMAIL_RECEIPT_POLL_MS: "50",
      CHAINMAIL_BATCH_WAIT_MS: "10",
      ...relayerEnv,
    });
    await relayer.start();
    await relayer.ready();
    const location = { chainId: deployed.chainId, address: deployed.address };
    const confirmed: FuzzContext["confirmed"] = [];
    for (let i = 0; i < confirmedCount; i++) {
      const wallet = members[i % members.length];
      const m = signMessageSync(wallet, location, { channel, body: bodyFromText(`fuzz base ${i}`), contentType: 1, timestamp: nowSeconds(), replyTo: 0n, nonce: BigInt(i + 1) });
      const response = await fetch(`${relayer.url}/v1/messages?wait=true`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(signedMessageJson(m)) });
      const json = (await response.json()) as { status?: string; digest?: string };
      if (response.status !== 200 || json.status !== "confirmed") throw new Error(`set-up message ${i} did not land: ${response.status} ${JSON.stringify(json)}`);
      confirmed.push({ ...m, digest: json.digest! });
    }
    const ctx: FuzzContext = { location, channel, members, outsider, confirmed, maxBodyBytes: limits.maxBodyBytes, maxAge: limits.maxAge, maxFutureSkew: limits.maxFutureSkew, httpBodyLimit };
    const running = relayer;
    return {
      node,
      relayer: running,
      ctx,
      registry: deployed.address,
      signers: [new Wallet(signerKey).address],
      stop: async () => {
        await running.kill9();
        await node.stop();
      },
    };
  } catch (error) {
    await relayer?.kill9();
    await node.stop();
    throw error;
  }
}
