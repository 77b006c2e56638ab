/**
 * Minimal pino-style JSON line logger (one object per line: level, time, msg, fields),
 * so the mirror's output can be grepped by people and parsed by log shippers alike.
 */
export type LogLevel = "debug" | "info" | "warn" | "error";
const ORDER: Record<LogLevel, number> = { debug: 20, info: 30, warn: 40, error: 50 };

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

export function jsonLogger(
  name: string,
  { level = "info", write = (line: string) => process.stdout.write(line) }: { level?: LogLevel; write?: (line: string) => void } = {},
): Logger {
  const emit = (at: LogLevel) => (msg: string, fields: Record<string, unknown> = {}) => {
    if (ORDER[at] < ORDER[level]) return;
    const line = JSON.stringify({ level: at, time: new Date().toISOString(), name, msg, ...fields }, (_k, v) =>
      typeof v === "bigint" ? v.toString() : v,
    );
    write(line + "\n");
  };
  return { debug: emit("debug"), info: emit("info"), warn: emit("warn"), error: emit("error") };
}

export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };

/** Routes kafkajs's own log lines into `logger` (kafkajs ERROR lines become warnings: the mirror retries). */
export function kafkajsLogCreator(logger: Logger) {
  return () =>
    ({ namespace, level, log }: { namespace: string; level: number; log: { message: string; [k: string]: unknown } }) => {
      const { message, timestamp: _t, logger: _l, ...rest } = log;
      const fields = { kafkajs: namespace, ...rest };
      // Expected by design: the mirror limits kafkajs's retries and, after any failure,
      // starts a new producer session (which aborts the open transaction) instead.
      if (/Limiting retries for the idempotent producer/.test(message)) return logger.debug(`kafkajs: ${message}`, fields);
      if (level <= 2) logger.warn(`kafkajs: ${message}`, fields);
      else if (level <= 4) logger.debug(`kafkajs: ${message}`, fields);
    };
}
