/**
 * How the SDK, the CLI and the Hardhat tasks choose nonces: one scheme, here.
 *
 * The registry keeps an author's used nonces in a bitmap (Permit2's unordered nonces):
 * bit `nonce & 0xff` of storage word `nonce >> 8`. Setting the first bit of a word costs
 * a zero-to-non-zero SSTORE (20,000 gas); the other 255 bits of the same word cost 100
 * to 2,900. A random nonce per message therefore pays 20,000 gas every message, while
 * messages that share a word pay it once per 256.
 *
 * So a signing process claims a random word position per author and hands out that
 * word's 256 bits in order, then claims a new random word. It keeps everything the
 * random nonce gave: messages may still land in any order through any relayer (each
 * bit is independent), and two processes of one author never collide because each
 * claims its own random word. Words are 120 random bits (nonces below 2^128): two
 * claims meet with probability 2^-120, and the nonce takes 16 bytes, not 32, in the
 * packed batch and the log (both drop its leading zero bytes; each byte left costs about
 * 24 gas between calldata and log).
 */
import { hexlify } from "ethers";

/** Bits per bitmap word: the nonces one claimed word hands out. */
export const NONCES_PER_WORD = 256n;

/** A random word position (120 bits), the part of a nonce above its low 8 bits. */
export function randomNonceWord(): bigint {
  return BigInt(hexlify(crypto.getRandomValues(new Uint8Array(15))));
}

/** A cursor into one claimed word: `word` and the next unused bit. */
export interface NonceCursor {
  word: bigint;
  next: bigint;
}

/**
 * Advances a cursor and returns the nonce it gives: the next bit of its word, or the
 * first bit of a freshly claimed random word once all 256 are spent (or when there is
 * no cursor yet). Pure apart from the randomness, so a persisted cursor (the CLI's state
 * file) and an in-memory one (NonceSource) follow the same rule.
 */
export function advanceNonceCursor(cursor: NonceCursor | undefined, newWord: () => bigint = randomNonceWord): { nonce: bigint; cursor: NonceCursor } {
  const current = cursor && cursor.next < NONCES_PER_WORD ? cursor : { word: newWord(), next: 0n };
  return { nonce: (current.word << 8n) | current.next, cursor: { word: current.word, next: current.next + 1n } };
}

/** Hands out nonces for any number of authors in one process: one claimed word per author at a time. */
export class NonceSource {
  private readonly cursors = new Map<string, NonceCursor>();

  constructor(private readonly newWord: () => bigint = randomNonceWord) {}

  /** The next nonce for `author` (an address, any case). */
  next(author: string): bigint {
    const key = author.toLowerCase();
    const { nonce, cursor } = advanceNonceCursor(this.cursors.get(key), this.newWord);
    this.cursors.set(key, cursor);
    return nonce;
  }
}

/** The process-wide source the SDK and the tasks use unless given their own. */
export const defaultNonceSource = new NonceSource();

/** The next nonce for `author` from this process's claimed word (see the module comment). */
export function nextNonce(author: string): bigint {
  return defaultNonceSource.next(author);
}
