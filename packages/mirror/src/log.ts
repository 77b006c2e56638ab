/**
 * The mirror logs through ChainMail's one logger (`@chainmail/runtime`); this file only
 * bridges kafkajs's own log lines into it.
 */
import type { Logger } from "@chainmail/runtime";

/** Routes kafkajs's own log lines into `logger` (kafkajs ERROR lines become warnings: the mirror retries). */
export function kafkajsLogCreator(logger: Logger) {
  return () =>
    ({ namespace, level, log }: { namespace: string; level: number; log: { message: string; [k: string]: unknown } }) => {
      const { message, timestamp: _t, logger: _l, ...rest } = log;
      const fields = { kafkajs: namespace, ...rest };
      // Expected by design: the mirror limits kafkajs's retries and, after any failure,
      // starts a new producer session (which aborts the open transaction) instead.
      if (/Limiting retries for the idempotent producer/.test(message)) return logger.debug(fields, `kafkajs: ${message}`);
      if (level <= 2) logger.warn(fields, `kafkajs: ${message}`);
      else if (level <= 4) logger.debug(fields, `kafkajs: ${message}`);
    };
}
