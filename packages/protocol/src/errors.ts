/**
 * The one error base of ChainMail (after viem's `BaseError`): a machine-readable `code`
 * that programs branch on, a sentence for people as `message`, and the error it wraps as
 * `cause`. Codes are part of the protocol: the HTTP API answers with them, the CLI maps
 * them to exit codes, logs carry them; so a code, once published, keeps its meaning.
 */
export interface ChainMailErrorOptions {
  cause?: unknown;
}

export class ChainMailError extends Error {
  override name = "ChainMailError";

  constructor(
    readonly code: string,
    message: string,
    options: ChainMailErrorOptions = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
  }

  /**
   * Follows the `cause` chain and returns the first error for which `predicate` holds
   * (without a predicate: the innermost error), or null when none does.
   */
  walk(predicate?: (error: unknown) => boolean): unknown {
    let current: unknown = this;
    const seen = new Set<unknown>();
    while (current !== undefined && current !== null && !seen.has(current)) {
      if (predicate?.(current)) return current;
      seen.add(current);
      const next = (current as { cause?: unknown }).cause;
      if (next === undefined || next === null) return predicate ? null : current;
      current = next;
    }
    return predicate ? null : current;
  }
}

