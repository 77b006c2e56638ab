/**
 * The pre-checks: everything the contract would refuse that the relayer can see
 * before spending gas. Each failure is an ApiError (status, code, sentence). The
 * order puts the local, CPU-only checks first and runs the chain reads together.
 */
import { getAddress } from "ethers";
import { digestOf, isCanonicalSignature, reasonSentence, recoverAuthor, type Message, type SignedMessage } from "@chainmail/protocol";
import type { Chain } from "./chain.js";
import { ApiError, ErrorCodes, reasonError } from "./errors.js";
import type { Outcome, OutcomeIndex } from "./outcomes.js";
import type { SignedMessageJson } from "@chainmail/protocol";
import { recoverHex, type RecoverSigner } from "@chainmail/protocol/signatures";
import type { MessageProbe } from "./probe.js";
import type { PendingMessage, Submitter } from "./submitter/index.js";

const UINT64_MAX = (1n << 64n) - 1n;
/** A probe item with this channel asks no membership (see MessageProbe.sol). */
const ZERO_CHANNEL = "0x" + "00".repeat(32);
const UINT256_MAX = (1n << 256n) - 1n;

/**
 * Each author as written -> its checksummed address. Authors repeat, and getAddress costs
 * a keccak (about 15 µs a message, measured); bounded, oldest out first, and an address
 * that fails its checksum is never kept.
 */
const checksummed = new Map<string, string>();
const CHECKSUMMED_MAX = 10_000;

function checksumAddress(address: string): string {
  let known = checksummed.get(address);
  if (known === undefined) {
    known = getAddress(address);
    if (checksummed.size >= CHECKSUMMED_MAX) checksummed.delete(checksummed.keys().next().value!);
    checksummed.set(address, known);
  }
  return known;
}

/** JSON (validated by the schema) -> protocol message; range checks the schema cannot express. */
export function parseSignedMessage(json: SignedMessageJson): SignedMessage {
  let author: string;
  try {
    author = checksumAddress(json.author);
  } catch {
    throw new ApiError(400, ErrorCodes.InvalidRequest, "author is not a valid address (its mixed-case checksum is wrong).");
  }
  const timestamp = BigInt(json.timestamp);
  const replyTo = BigInt(json.replyTo);
  const nonce = BigInt(json.nonce);
  if (timestamp > UINT64_MAX) throw new ApiError(400, ErrorCodes.InvalidRequest, "timestamp does not fit in 64 bits.");
  if (replyTo > UINT64_MAX) throw new ApiError(400, ErrorCodes.InvalidRequest, "replyTo does not fit in 64 bits.");
  if (nonce > UINT256_MAX) throw new ApiError(400, ErrorCodes.InvalidRequest, "nonce does not fit in 256 bits.");
  return {
    channel: json.channel.toLowerCase(),
    author,
    body: json.body.toLowerCase(),
    contentType: json.contentType,
    timestamp,
    replyTo,
    nonce,
    signature: json.signature,
  };
}

export type CheckResult =
  | { kind: "new"; digest: string; message: SignedMessage }
  | { kind: "known"; digest: string; outcome: Outcome }
  | { kind: "pending"; digest: string; entry: PendingMessage };

interface ChainAnswers {
  /** Who signed (checksummed or lowercase: compare case-blind), or null for nobody. */
  signer: string | null;
  nonceUsed: boolean;
  member: boolean;
}

export class PreChecker {
  readonly digest: (message: Message) => string;

  constructor(
    private readonly chain: Chain,
    private readonly index: OutcomeIndex,
    private readonly submitter: Submitter,
    /** When set, nonce and membership (and the signer, if `recover` is not) come from one batched eth_call. */
    private readonly probe?: MessageProbe,
    /**
     * Recovers signers in this process: libsecp256k1, about 70 µs a message. Without it
     * the probe asks the node's ecrecover (a JavaScript recovery costs milliseconds).
     * With it a forged signature is refused before the node is asked anything, and the
     * one node all relayer replicas share does a quarter less work per message.
     */
    private readonly recover?: RecoverSigner,
  ) {
    this.digest = (message) => digestOf(chain.location, message);
  }

  get mode(): "probe" | "calls" {
    return this.probe ? "probe" : "calls";
  }

  /** Who recovers signers: this process (libsecp256k1) or the node (the probe), or ethers per message. */
  get signerRecovery(): "here" | "node" | "ethers" {
    return this.recover ? "here" : this.probe ? "node" : "ethers";
  }

  /** Signer, nonce and membership: the signer here or on the node, the rest batched on the node or one by one. `check` has already refused non-canonical signatures. */
  private async askChain(message: SignedMessage, digest: string): Promise<ChainAnswers> {
    const author = message.author.toLowerCase();
    const signer = this.recover ? recoverHex(this.recover, digest, message.signature) : undefined;
    if (signer !== undefined && signer !== author) return { signer, nonceUsed: false, member: false };
    if (this.probe) {
      // A membership the cache holds is not asked again (the same cache, following
      // RoleRevoked, as the per-message mode): on Hardhat's node, about a sixth of an
      // item's cost.
      const known = this.chain.knownMember(message.channel, message.author);
      const answers = await this.probe.check({
        author: message.author,
        nonce: message.nonce,
        channel: known ? ZERO_CHANNEL : message.channel,
        signed: signer === undefined ? { digest, signature: message.signature } : undefined,
      });
      const who = signer ?? answers.signer ?? null;
      if (known) return { signer: who, nonceUsed: answers.nonceUsed, member: true };
      if (answers.member) this.chain.rememberMember(message.channel, message.author, true);
      return { signer: who, nonceUsed: answers.nonceUsed, member: answers.member };
    }
    const who = signer ?? recoverAuthor(this.chain.location, message, digest);
    if (who?.toLowerCase() !== author) return { signer: who, nonceUsed: false, member: false };
    const [member, nonceUsed] = await Promise.all([
      this.chain.isMember(message.channel, message.author),
      this.chain.isNonceUsed(message.author, message.nonce),
    ]);
    return { signer: who, nonceUsed, member };
  }

  /**
   * `admit` runs once the signature is known to be the author's (before anything is
   * queued): the per-author rate limit goes there, so that messages that merely name an
   * author cannot spend that author's allowance. It may throw.
   */
  async check(message: SignedMessage, admit?: () => void): Promise<CheckResult> {
    const digest = this.digest(message).toLowerCase();
    // The same signed message again: its first outcome, never a second copy.
    const pending = this.submitter.get(digest);
    if (pending) return { kind: "pending", digest, entry: pending };
    const known = this.index.get(digest);
    if (known) return { kind: "known", digest, outcome: known };

    // Claimed before the first await: of several different messages with one nonce
    // arriving together, only one reaches the chain reads (and the chain). The others
    // wait for its verdict rather than fail at once: a forged message naming the author
    // and nonce must not make the author's own message look NonceUsed.
    for (;;) {
      const holder = this.submitter.claimNonce(message.author, message.nonce, digest);
      if (holder === undefined) break;
      if (holder.queued) {
        throw new ApiError(409, "NonceUsed", `${reasonSentence("NonceUsed")} Another message with this nonce (${holder.digest}) is being posted.`);
      }
      await holder.decided;
    }
    let result: CheckResult | undefined;
    try {
      result = await this.checkClaimed(message, digest, admit);
      return result;
    } finally {
      if (result?.kind !== "new") this.submitter.releaseNonce(message.author, message.nonce, digest);
    }
  }

  private async checkClaimed(message: SignedMessage, digest: string, admit?: () => void): Promise<CheckResult> {
    const limits = await this.chain.limits();
    const length = (message.body.length - 2) / 2;
    if (length === 0) throw reasonError("EmptyBody");
    if (length > limits.maxBodyBytes) {
      throw reasonError("BodyTooLarge", `It has ${length} bytes; the limit is ${limits.maxBodyBytes}.`);
    }
    if (!isCanonicalSignature(message.signature)) throw reasonError("BadSignature", "It is not a canonical 65-byte ECDSA signature (v 27/28, low s).");

    const [answers, contentTypeKnown, now, channel] = await Promise.all([
      this.askChain(message, digest),
      this.chain.isContentTypeKnown(message.contentType),
      this.chain.chainNow(),
      this.chain.channel(message.channel),
    ]);
    if (answers.signer?.toLowerCase() !== message.author.toLowerCase()) {
      throw reasonError(
        "BadSignature",
        answers.signer === null
          ? "It recovers to no address."
          : `It recovers to ${getAddress(answers.signer)}; check that you signed for chain ${this.chain.location.chainId} and registry ${this.chain.location.address} (GET /v1/info).`,
      );
    }
    admit?.();
    if (!contentTypeKnown) throw reasonError("UnknownContentType", `Content type ${message.contentType} is not enabled.`);
    const timestamp = Number(message.timestamp);
    if (timestamp > now + limits.maxFutureSkew) {
      throw reasonError("TimestampInFuture", `It is ${timestamp - now} s ahead of the chain's clock; at most ${limits.maxFutureSkew} s is allowed.`);
    }
    if (timestamp + limits.maxAge < now) {
      throw reasonError("MessageExpired", `It is ${now - timestamp} s old; at most ${limits.maxAge} s is allowed. Sign it again with a new timestamp.`);
    }
    if (!channel.exists) throw reasonError("UnknownChannel", `No channel ${message.channel}.`);
    if (!channel.open) throw reasonError("ChannelClosed");
    if (message.replyTo > channel.seq) {
      // The cached seq may be behind: ask again before refusing.
      const fresh = await this.chain.channel(message.channel, true);
      if (message.replyTo > fresh.seq) {
        throw reasonError("UnknownReply", `The channel's last seq is ${fresh.seq}, the message replies to ${message.replyTo}.`);
      }
    }
    if (!answers.member) throw reasonError("NotMember", `${message.author} holds no member role in this channel.`);

    if (answers.nonceUsed) {
      const first = await this.index.findByNonce(message.author, message.nonce);
      if (first && first.digest.toLowerCase() === digest) return { kind: "known", digest, outcome: first };
      throw reasonError("NonceUsed", first ? `Message ${first.digest} used it (channel seq ${first.seq}).` : undefined);
    }
    return { kind: "new", digest, message };
  }
}
