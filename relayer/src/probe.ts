/**
 * Batched pre-checks on the node: many concurrent requests' nonce and membership
 * questions (and, where the relayer has no native secp256k1, their signatures) are
 * collected for a moment and answered by one `eth_call` running MessageProbe's creation
 * code (no deployment). Why: two eth_calls per message cost the node far more than one
 * call for a whole batch, and a JavaScript ecrecover costs milliseconds, the node's
 * native one tens of microseconds.
 */
import type { RpcClient } from "@chainmail/chain";
import { MESSAGE_PROBE_BYTECODE } from "@chainmail/protocol";

export interface ProbeItem {
  author: string;
  nonce: bigint;
  channel: string;
  /** Asks the node who signed `digest`: all of a call's items carry it, or none. */
  signed?: { digest: string; signature: string };
}

export interface ProbeAnswer {
  /** Who signed the digest (lowercase hex), null if the signature recovers to nobody, undefined if not asked. */
  signer: string | null | undefined;
  nonceUsed: boolean;
  member: boolean;
}


const hex64 = (value: bigint | number) => value.toString(16).padStart(64, "0");
const strip = (hex: string) => hex.slice(2).toLowerCase();

/**
 * abi.encode(address registry, Item[] items, Signed[] signatures) by hand: every field is
 * a static word, so the layout is fixed (head: registry and two offsets; then each
 * array's length and its words, 3 per item, 4 per signature). Several times faster than
 * the generic coder; a test holds the two equal.
 */
export function encodeArguments(registry: string, items: ProbeItem[]): string {
  const signed = items.filter((it) => it.signed).length;
  if (signed !== 0 && signed !== items.length) throw new Error(`A probe call asks for all its signers or none, not ${signed} of ${items.length}.`);
  const parts: string[] = [strip(registry).padStart(64, "0"), hex64(0x60), hex64(0x60 + 32 * (1 + 3 * items.length)), hex64(items.length)];
  for (const it of items) parts.push(strip(it.author).padStart(64, "0"), hex64(it.nonce), strip(it.channel));
  parts.push(hex64(signed));
  for (const it of signed ? items : []) {
    const signature = strip(it.signed!.signature);
    parts.push(strip(it.signed!.digest), signature.slice(0, 64), signature.slice(64, 128), hex64(parseInt(signature.slice(128, 130), 16)));
  }
  return parts.join("");
}


/**
 * abi.decode(result, (uint256[])) by hand (offset, length, then the words): about 6 µs a
 * word less than the generic coder, on the pre-check's hot path. A test holds the two equal.
 */
export function decodeWords(result: string): bigint[] {
  const hex = result.startsWith("0x") ? result.slice(2) : result;
  const word = (i: number) => BigInt("0x" + hex.slice(64 * i, 64 * i + 64));
  if (hex.length < 128 || hex.length % 64 !== 0 || word(0) !== 32n) throw new Error(`The probe's answer is not an ABI-encoded uint256[] (${hex.length / 2} bytes).`);
  const length = Number(word(1));
  if (hex.length !== 64 * (2 + length)) throw new Error(`The probe's answer claims ${length} words in ${hex.length / 2} bytes.`);
  return Array.from({ length }, (_, i) => word(2 + i));
}
const NONCE_BIT = 1n << 160n;
const MEMBER_BIT = 1n << 161n;
const ADDRESS_MASK = (1n << 160n) - 1n;

interface Waiting {
  item: ProbeItem;
  resolve(answer: ProbeAnswer): void;
  reject(error: unknown): void;
}

export class MessageProbe {
  private waiting: Waiting[] = [];
  private timer?: ReturnType<typeof setTimeout>;
  /** Calls not yet answered, by when they were sent (performance.now()). */
  private readonly outstanding = new Set<{ sentAt: number }>();
  /** What the probe did, for tests and metrics: eth_calls made and items asked. */
  readonly stats = { calls: 0, items: 0 };

  constructor(
    private readonly rpc: RpcClient,
    private readonly registry: string,
    private readonly maxBatch = 200,
    private readonly windowMs = 2,
    /**
     * eth_calls at once. While they are all out, questions gather for the next one
     * (group commit, as the journal does): under load a call carries up to maxBatch
     * items instead of the few that arrive within the window, and on Hardhat's node a
     * call costs about as much as four items on top of its items.
     */
    private readonly maxInFlight = 2,
    /**
     * A call out longer than this no longer holds the others back: a node that lost a
     * request must not stall every pre-check until the RPC timeout.
     */
    private readonly stallMs = 1000,
  ) {}

  /** One question, answered together with the others that arrive within the window. */
  check(item: ProbeItem): Promise<ProbeAnswer> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ item, resolve, reject });
      if (this.waiting.length >= this.maxBatch) this.flush();
      else this.timer ??= setTimeout(() => this.flush(), this.windowMs);
    });
  }

  private flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const now = performance.now();
    let busy = 0;
    let firstStale = Infinity;
    for (const call of this.outstanding) {
      if (now - call.sentAt < this.stallMs) {
        busy++;
        firstStale = Math.min(firstStale, call.sentAt + this.stallMs);
      }
    }
    for (; busy < this.maxInFlight && this.waiting.length > 0; busy++) this.send(this.waiting.splice(0, this.maxBatch));
    // Held back: an answer flushes again, or, if none comes, the first call to turn stale.
    if (this.waiting.length > 0) this.timer = setTimeout(() => this.flush(), Math.max(this.windowMs, firstStale - now));
  }

  private send(batch: Waiting[]): void {
    const call = { sentAt: performance.now() };
    this.outstanding.add(call);
    this.stats.calls++;
    this.stats.items += batch.length;
    this.run(batch.map((w) => w.item))
      .then(
        (answers) => batch.forEach((w, i) => w.resolve(answers[i])),
        (error: unknown) => batch.forEach((w) => w.reject(error)),
      )
      .finally(() => {
        this.outstanding.delete(call);
        // What gathered meanwhile has waited at least a call's time: it goes now.
        this.flush();
      });
  }

  /** Runs the probe for `items` in one eth_call. */
  async run(items: ProbeItem[]): Promise<ProbeAnswer[]> {
    const result: string = await this.rpc.call("eth_call", [{ data: MESSAGE_PROBE_BYTECODE + encodeArguments(this.registry, items) }, "latest"]);
    const words = decodeWords(result);
    if (words.length !== items.length) throw new Error(`The probe answered ${words.length} items for ${items.length}.`);
    const recovered = items.length > 0 && items[0].signed !== undefined;
    return words.map((w) => {
      const address = w & ADDRESS_MASK;
      return {
        // Lowercase: the checksum costs a keccak (about 14 µs) and the check compares
        // addresses case-blind; it is written out only in a refusal.
        signer: !recovered ? undefined : address === 0n ? null : "0x" + address.toString(16).padStart(40, "0"),
        nonceUsed: (w & NONCE_BIT) !== 0n,
        member: (w & MEMBER_BIT) !== 0n,
      };
    });
  }

  /** Whether the node runs the probe (eth_call without `to`); checked once at start. */
  async works(): Promise<boolean> {
    try {
      const answers = await this.run([]);
      return answers.length === 0;
    } catch {
      return false;
    }
  }
}
