/**
 * The one logger of every ChainMail service: pino, one JSON object per line, with the
 * level as its name ("info", not 30) and the time as ISO 8601, so that people can read
 * the lines and log shippers can parse them the same way whichever service wrote them.
 */
import { pino, type DestinationStream, type Logger } from "pino";

export type { Logger } from "pino";

/** pino's levels, quietest last; `--log-level` and `CHAINMAIL_LOG_LEVEL` take one of these. */
export const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface LoggerOptions {
  /** Which process writes (e.g. "chainmail-mirror"); every line carries it as `name`. */
  name: string;
  level?: LogLevel;
  /** Where lines go; default stdout. Tests pass a stream to read them back. */
  destination?: DestinationStream;
}

export function createLogger({ name, level = "info", destination }: LoggerOptions): Logger {
  const options = {
    name,
    level,
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label: string) => ({ level: label }) },
  };
  return destination ? pino(options, destination) : pino(options);
}

/** A logger that writes nothing (tests, benchmarks). */
export const silentLogger: Logger = pino({ level: "silent" });
