/**
 * The write-ahead journal behind a durable 202: an append-only file, one JSON line per
 * accepted message (the signed message in the protocol's JSON form, never calldata) and
 * one per settled message. A message is written and fsync'd before its 202 is sent, so
 * it survives the relayer's death; the restarted relayer reads the messages that have
 * an accept line and no settle line and finishes them.
 *
 * - Group commit: accepts that arrive while a write is in progress (or in the same tick)
 *   share one write and one fsync.
 * - Settle lines are not fsync'd on their own: losing one only makes the next start
 *   replay a message whose outcome is already on-chain, which the replay recognises.
 * - A crash mid-write leaves a torn last line: it is ignored (its message was never
 *   answered 202, the fsync had not returned). Any other unreadable line is counted and
 *   skipped. The file is rewritten at open (dropping both) and whenever settled lines
 *   outnumber the unsettled ones, so it stays about as large as the unsettled backlog.
 * - One process per journal: a lock file names the owner's pid; a second live relayer
 *   on the same journal is refused at start.
 *
 * The journal trusts nothing it reads back: the replay re-runs every pre-check,
 * the signature check included, so a tampered line is refused, never sent.
 */
import { mkdir, open, readFile, rename, unlink, writeFile, type FileHandle } from "node:fs/promises";
import path from "node:path";
import type { SignedMessageJson } from "@chainmail/protocol";

interface AcceptLine {
  op: "accept";
  digest: string;
  message: SignedMessageJson;
}

interface SettleLine {
  op: "settle";
  digest: string;
  status: string;
}

/** What the journal held at open. */
export interface JournalRecovery {
  /** Accepted and not settled, in the order they were accepted. */
  unsettled: Array<{ digest: string; message: SignedMessageJson }>;
  /** A last line without its newline (the relayer died while writing it): ignored. */
  tornTail: boolean;
  /** Other lines that are not an accept or a settle record: skipped. */
  unreadable: number;
}

/** Rewrite the file when at least this many lines are settled and they outnumber the live ones. */
const COMPACT_MIN_SETTLED = 1000;

export class JournalError extends Error {
  override name = "JournalError";
}

export class Journal {
  /** digest -> its accept line, for every accepted message not yet settled. */
  private readonly live = new Map<string, string>();
  private buffer: string[] = [];
  private waiters: Array<{ resolve: () => void; reject: (error: Error) => void }> = [];
  private flushing?: Promise<void>;
  private settledInFile = 0;
  private closed = false;
  /** A write failed part-way: the file's tail may be a fragment, so the next flush rewrites it whole. */
  private damaged = false;

  private constructor(
    readonly file: string,
    private fd: FileHandle,
    private readonly lockFile: string,
  ) {}

  /**
   * Opens (creating) the journal `file`, takes its lock, reads what it holds and rewrites
   * it with only the unsettled messages.
   */
  static async open(file: string): Promise<{ journal: Journal; recovered: JournalRecovery }> {
    await mkdir(path.dirname(file), { recursive: true });
    const lockFile = `${file}.lock`;
    await takeLock(lockFile);
    let text = "";
    try {
      text = await readFile(file, "utf8");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
    }
    const recovered = parse(text);
    const journal = new Journal(file, await open(file, "a"), lockFile);
    for (const { digest, message } of recovered.unsettled) journal.live.set(digest, acceptLine(digest, message));
    await journal.rewrite();
    return { journal, recovered };
  }

  get unsettledCount(): number {
    return this.live.size;
  }

  has(digest: string): boolean {
    return this.live.has(digest.toLowerCase());
  }

  /** Resolves once the message is on disk (written and fsync'd); rejects if it could not be. */
  accept(digest: string, message: SignedMessageJson): Promise<void> {
    if (this.closed) return Promise.reject(new JournalError("The journal is closed."));
    const key = digest.toLowerCase();
    const line = acceptLine(key, message);
    this.live.set(key, line);
    this.buffer.push(line);
    const written = new Promise<void>((resolve, reject) => this.waiters.push({ resolve, reject }));
    this.schedule();
    // Not on disk: not accepted (the caller answers 503), so not live either.
    written.catch(() => this.live.get(key) === line && this.live.delete(key));
    return written;
  }

  /** The message's outcome is final: it is no longer replayed. */
  settle(digest: string, status: string): void {
    const key = digest.toLowerCase();
    if (this.closed || !this.live.delete(key)) return;
    const line: SettleLine = { op: "settle", digest: key, status };
    this.buffer.push(JSON.stringify(line) + "\n");
    this.settledInFile++;
    this.schedule();
  }

  /** Writes what is buffered and closes the file; unsettled messages stay for the next start. */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.flushing;
    if (this.buffer.length > 0) await this.flush();
    this.closed = true;
    await this.fd.close();
    await unlink(this.lockFile).catch(() => undefined);
  }

  private schedule(): void {
    // setImmediate: every accept of this tick joins the same write and fsync.
    this.flushing ??= new Promise<void>((resolve) => setImmediate(resolve))
      .then(() => this.flush())
      .finally(() => {
        this.flushing = undefined;
        if (this.buffer.length > 0) this.schedule();
      });
  }

  private async flush(): Promise<void> {
    const lines = this.buffer;
    const waiters = this.waiters;
    this.buffer = [];
    this.waiters = [];
    try {
      if (this.damaged) {
        await this.rewrite(); // every live line, the buffered accepts included
        this.damaged = false;
      } else {
        await this.fd.write(lines.join(""));
        if (waiters.length > 0) await this.fd.datasync();
      }
      waiters.forEach((w) => w.resolve());
    } catch (error) {
      this.damaged = true;
      const failure = new JournalError(`Cannot write the journal ${this.file}: ${(error as Error).message}`);
      waiters.forEach((w) => w.reject(failure));
      return;
    }
    if (this.settledInFile >= COMPACT_MIN_SETTLED && this.settledInFile > this.live.size) {
      await this.rewrite().catch(() => undefined); // the old file stays valid; tried again later
    }
  }

  /** Replaces the file by one holding only the live accept lines (write, fsync, rename, fsync the directory). */
  private async rewrite(): Promise<void> {
    const temp = `${this.file}.compact`;
    const handle = await open(temp, "w");
    try {
      await handle.write([...this.live.values()].join(""));
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, this.file);
    await syncDirectory(path.dirname(this.file));
    const old = this.fd;
    this.fd = await open(this.file, "a");
    await old.close();
    this.settledInFile = 0;
  }
}

function acceptLine(digest: string, message: SignedMessageJson): string {
  const line: AcceptLine = { op: "accept", digest, message };
  return JSON.stringify(line) + "\n";
}

/** The journal's text -> the unsettled messages; see JournalRecovery. */
export function parse(text: string): JournalRecovery {
  const lines = text.split("\n");
  // After the last "\n" comes either nothing or the line a crash cut short.
  const tail = lines.pop()!;
  const accepted = new Map<string, SignedMessageJson>();
  let unreadable = 0;
  for (const raw of lines) {
    if (raw.trim() === "") continue;
    let record: unknown;
    try {
      record = JSON.parse(raw);
    } catch {
      unreadable++;
      continue;
    }
    if (typeof record !== "object" || record === null) {
      unreadable++;
      continue;
    }
    const r = record as { op?: unknown; digest?: unknown; message?: unknown };
    if (typeof r.digest !== "string") {
      unreadable++;
    } else if (r.op === "accept" && typeof r.message === "object" && r.message !== null) {
      accepted.set(r.digest.toLowerCase(), r.message as SignedMessageJson);
    } else if (r.op === "settle") {
      accepted.delete(r.digest.toLowerCase());
    } else {
      unreadable++;
    }
  }
  return { unsettled: [...accepted].map(([digest, message]) => ({ digest, message })), tornTail: tail.length > 0, unreadable };
}

async function takeLock(lockFile: string): Promise<void> {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      await writeFile(lockFile, `${process.pid}\n`, { flag: "wx" });
      return;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    }
    const owner = Number((await readFile(lockFile, "utf8").catch(() => "")).trim());
    if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && isAlive(owner)) {
      throw new JournalError(`The journal ${lockFile.replace(/\.lock$/, "")} is in use by process ${owner}: two relayers must not share a journal (set CHAINMAIL_JOURNAL_DIR).`);
    }
    // The owner died (kill -9) or it is this very process: the lock is stale.
    await unlink(lockFile).catch(() => undefined);
  }
  throw new JournalError(`Cannot take the journal lock ${lockFile}.`);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
