/**
 * The one reader of configuration for every ChainMail process: each setting may come
 * from a flag (`--rpc-url`) or from an environment variable (`CHAINMAIL_RPC_URL`), the
 * flag winning. Reading never stops at the first mistake: every problem becomes one
 * sentence in `problems`, so that an operator fixes them all in one go; `finish()`
 * then throws one InputError listing them, which commands turn into exit code 2.
 */
import { parseArgs, type ParseArgsConfig } from "node:util";
import { ChainMailError } from "@chainmail/protocol/errors";

/** Exit code for wrong input: unknown flags, bad values, missing settings. */
export const EXIT_USAGE = 2;

export interface OptionSpec {
  /** Default "string". */
  type?: "string" | "boolean";
  /** May be given more than once (flags only). */
  multiple?: boolean;
  short?: string;
  /** The environment variable that gives the same setting. */
  env?: string;
  /** Only from the environment, never a flag (secrets: flags show up in `ps`). */
  envOnly?: boolean;
  /** Placeholder for the value in the usage text, e.g. "URL". */
  value?: string;
  description: string;
  /** The default as the usage text shows it. */
  default?: string;
}

export type OptionSpecs = Record<string, OptionSpec>;
export type Env = Record<string, string | undefined>;

/** Wrong input: every problem in one sentence each. */
export class InputError extends ChainMailError {
  override name = "InputError";

  constructor(
    readonly problems: string[],
    message = problems.join("\n"),
  ) {
    super("InvalidInput", message);
  }
}

interface Found {
  value: string;
  /** What the user wrote to give it: "--rpc-url" or "CHAINMAIL_RPC_URL". */
  source: string;
}

export class OptionReader {
  readonly problems: string[] = [];
  private readonly given = new Map<string, string[]>();
  private readonly positionals: string[] = [];

  /**
   * `argv` undefined means flags are no source in this reading (a service configured
   * from its environment only), and sentences then name only environment variables.
   */
  constructor(
    readonly specs: OptionSpecs,
    private readonly input: { argv?: string[]; env?: Env; positionals?: boolean } = {},
  ) {
    if (input.argv) this.parse(input.argv);
  }

  private parse(argv: string[]): void {
    const options = Object.fromEntries(
      Object.entries(this.specs).filter(([, spec]) => !spec.envOnly).map(([name, spec]) => [name, { type: spec.type ?? "string", ...(spec.short ? { short: spec.short } : {}) }]),
    ) as NonNullable<ParseArgsConfig["options"]>;
    // Not strict: node's strict mode stops at the first unknown flag; we list them all.
    const { tokens } = parseArgs({ args: argv, options, strict: false, allowPositionals: true, tokens: true });
    for (const token of tokens) {
      if (token.kind === "positional") {
        if (this.input.positionals) this.positionals.push(token.value);
        else this.problems.push(`Unexpected argument "${token.value}".`);
        continue;
      }
      if (token.kind !== "option") continue;
      const spec = this.specs[token.name];
      if (!spec || spec.envOnly) {
        this.problems.push(`Unknown option '${token.rawName}'.`);
        continue;
      }
      const rawName = token.rawName.startsWith("--") ? token.rawName : `--${token.name}`;
      if ((spec.type ?? "string") === "boolean") {
        if (token.value !== undefined) this.problems.push(`${rawName} takes no value.`);
        else this.given.set(token.name, ["true"]);
        continue;
      }
      // A flag followed by another flag has no value: node would take "--registry" as the URL.
      if (token.value === undefined || (!token.inlineValue && token.value.startsWith("-"))) {
        this.problems.push(`${rawName} needs a value${spec.value ? ` (${spec.value})` : ""}.`);
        continue;
      }
      if (this.given.has(token.name) && !spec.multiple) {
        this.problems.push(`${rawName} is given twice; give it once.`);
        continue;
      }
      this.given.set(token.name, [...(this.given.get(token.name) ?? []), token.value]);
    }
  }

  /** Positional arguments (only when the reader was told to allow them). */
  get args(): string[] {
    return this.positionals;
  }

  private spec(name: string): OptionSpec {
    const spec = this.specs[name];
    if (!spec) throw new Error(`no option "${name}" is declared`); // a programming error, not input
    return spec;
  }

  private find(name: string): Found | undefined {
    const spec = this.spec(name);
    const flagged = this.given.get(name);
    if (flagged) return { value: flagged[flagged.length - 1], source: `--${name}` };
    if (spec.env) {
      const value = this.input.env?.[spec.env]?.trim();
      if (value) return { value, source: spec.env };
    }
    return undefined;
  }

  /** How to name a setting nobody gave: the flag, its environment variable, or both. */
  private label(name: string): string {
    const { env, envOnly } = this.spec(name);
    if (!this.input.argv || envOnly) return env ?? `--${name}`;
    return env ? `--${name} (or ${env})` : `--${name}`;
  }

  /** A sentence for a value given but wrong, naming where it came from. */
  private wrong(found: Found, what: string): undefined {
    this.problems.push(`${found.source} is "${found.value}"; it must be ${what}.`);
    return undefined;
  }

  problem(sentence: string): void {
    this.problems.push(sentence);
  }

  /** Whether the setting was given at all (flag or environment). */
  has(name: string): boolean {
    return this.find(name) !== undefined;
  }

  /** Whether the setting was given as a flag (not only through the environment). */
  flagged(name: string): boolean {
    this.spec(name);
    return this.given.has(name);
  }

  string(name: string): string | undefined {
    return this.find(name)?.value;
  }

  /** All values of a repeatable flag. */
  strings(name: string): string[] {
    this.spec(name);
    return this.given.get(name) ?? [];
  }

  /** A switch: the flag, or its environment variable set to true/1/false/0. */
  boolean(name: string): boolean {
    const found = this.find(name);
    if (!found) return false;
    if (/^(true|1)$/i.test(found.value)) return true;
    if (!/^(false|0)$/i.test(found.value)) this.wrong(found, "true or false");
    return false;
  }

  required(name: string, what: string): string | undefined {
    const found = this.find(name);
    if (!found) this.problems.push(`${this.label(name)} is not set; it must be ${what}.`);
    return found?.value;
  }

  /** The value if `valid` accepts it; otherwise a problem and undefined. */
  check(name: string, valid: (value: string) => boolean, what: string, value = this.find(name)): string | undefined {
    if (!value) return undefined;
    return valid(value.value) ? value.value : this.wrong(value, what);
  }

  /** Like `check`, but the setting must be given. */
  requiredCheck(name: string, valid: (value: string) => boolean, what: string): string | undefined {
    const found = this.find(name);
    if (!found) {
      this.problems.push(`${this.label(name)} is not set; it must be ${what}.`);
      return undefined;
    }
    return this.check(name, valid, what, found);
  }

  integer(name: string, { min = 0, max }: { min?: number; max?: number } = {}): number | undefined {
    const found = this.find(name);
    if (!found) return undefined;
    const ok = /^\d+$/.test(found.value) && Number(found.value) >= min && (max === undefined || Number(found.value) <= max);
    if (!ok) return this.wrong(found, max === undefined ? `a whole number of at least ${min}` : `a whole number from ${min} to ${max}`);
    return Number(found.value);
  }

  oneOf<T extends string>(name: string, choices: readonly T[]): T | undefined {
    const found = this.find(name);
    if (!found) return undefined;
    if ((choices as readonly string[]).includes(found.value)) return found.value as T;
    return this.wrong(found, `one of ${choices.join(", ")}`);
  }

  url(name: string, schemes: string[] = ["http", "https"]): string | undefined {
    return this.check(name, (v) => new RegExp(`^(${schemes.join("|")})://\\S+$`).test(v), `a URL starting with ${schemes.map((s) => `${s}://`).join(" or ")}`);
  }

  /** Kafka bootstrap brokers, `host:port[,host:port...]`. */
  brokers(name: string, fallback: string): string[] {
    const found = this.find(name) ?? { value: fallback, source: `--${name}` };
    const brokers = found.value.split(",").map((b) => b.trim()).filter(Boolean);
    if (brokers.length === 0 || brokers.some((b) => !/^[^:\s]+:\d+$/.test(b))) {
      this.wrong(found, "a comma-separated list of host:port");
      return [];
    }
    return brokers;
  }

  /** Throws an InputError listing every problem found so far, if any. */
  finish(): void {
    if (this.problems.length > 0) throw new InputError([...this.problems]);
  }
}

/** The option list of a usage text, generated from the specs so that it cannot drift. */
export function describeOptions(specs: OptionSpecs): string {
  const rows = Object.entries(specs).map(([name, spec]) => {
    // A default written in parentheses is a note, not a value: "(required)".
    const fallback = spec.default && (/^\(.*\)$/.test(spec.default) ? spec.default.slice(1, -1) : `default ${spec.default}`);
    const notes = [spec.env && (spec.envOnly ? "environment only" : `env ${spec.env}`), fallback].filter(Boolean).join("; ");
    const text = notes ? `${spec.description} (${notes})` : spec.description;
    if (spec.envOnly) return [`    ${spec.env}`, text];
    return [`${spec.short ? `-${spec.short}, ` : "    "}--${name}${spec.value ? ` ${spec.value}` : ""}`, text];
  });
  const width = Math.max(...rows.map(([flag]) => flag.length));
  return rows.map(([flag, text]) => `  ${flag.padEnd(width)}  ${text}`).join("\n");
}
