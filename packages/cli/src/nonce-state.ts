/**
 * The CLI's nonces: `chainmail post` and `sign` run once per message, so an in-memory
 * NonceSource would claim a fresh bitmap word (20,000 gas) for every message. Instead
 * the author's cursor (claimed word, next bit) lives in a small state file, one per
 * author, advanced under an exclusive lock: concurrent CLI runs of one author take
 * different bits of the same word, and runs on another machine claim their own random
 * word. The rule itself is protocol's `advanceNonceCursor`, shared with the SDK.
 *
 * Where: $CHAINMAIL_STATE_DIR, else $XDG_STATE_HOME/chainmail, else ~/.local/state/chainmail.
 * If the file cannot be used (read-only home, a lock held too long), the run falls back
 * to a fresh random word and says so on stderr: correct, only dearer.
 */
import { closeSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import path from "node:path";
import { advanceNonceCursor, type NonceCursor } from "@chainmail/protocol";

const LOCK_WAIT_MS = 5_000;
/** A lock older than this was left by a killed run: a run holds it for microseconds. */
const STALE_LOCK_MS = 30_000;

export function nonceStateDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.CHAINMAIL_STATE_DIR) return env.CHAINMAIL_STATE_DIR;
  return path.join(env.XDG_STATE_HOME || path.join(homedir(), ".local", "state"), "chainmail");
}

function sleepSync(ms: number) {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function readCursor(file: string): NonceCursor | undefined {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch {
    return undefined;
  }
  const parsed = JSON.parse(text) as { word?: unknown; next?: unknown };
  if (typeof parsed.word !== "string" || typeof parsed.next !== "string") return undefined;
  return { word: BigInt(parsed.word), next: BigInt(parsed.next) };
}

/** Takes the lock file (O_EXCL), runs `fn`, releases it; waits a bounded time for another run. */
function withLock<T>(lock: string, fn: () => T): T {
  const deadline = Date.now() + LOCK_WAIT_MS;
  for (;;) {
    try {
      closeSync(openSync(lock, "wx"));
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      try {
        if (Date.now() - statSync(lock).mtimeMs > STALE_LOCK_MS) rmSync(lock, { force: true });
      } catch {
        // gone meanwhile: try again
      }
      if (Date.now() > deadline) throw new Error(`the nonce state lock ${lock} is held by another run`);
      sleepSync(10);
    }
  }
  try {
    return fn();
  } finally {
    rmSync(lock, { force: true });
  }
}

/** A NonceSource-like `next(author)` whose cursors persist in `dir`. */
export class FileNonceSource {
  constructor(
    private readonly dir = nonceStateDir(),
    private readonly warn: (line: string) => void = (line) => process.stderr.write(line + "\n"),
  ) {}

  next(author: string): bigint {
    const file = path.join(this.dir, "nonces", `${author.toLowerCase()}.json`);
    try {
      mkdirSync(path.dirname(file), { recursive: true });
      return withLock(`${file}.lock`, () => {
        const { nonce, cursor } = advanceNonceCursor(readCursor(file));
        const tmp = `${file}.${process.pid}.tmp`;
        writeFileSync(tmp, JSON.stringify({ word: cursor.word.toString(), next: cursor.next.toString() }) + "\n");
        renameSync(tmp, file);
        return nonce;
      });
    } catch (error) {
      this.warn(`chainmail: cannot use the nonce state in ${this.dir} (${(error as Error).message}); using a fresh random nonce word (about 20,000 more gas for this message).`);
      return advanceNonceCursor(undefined).nonce;
    }
  }
}
