export { createLogger, LOG_LEVELS, silentLogger, type Logger, type LoggerOptions, type LogLevel } from "./logger.js";
export { describeOptions, EXIT_USAGE, InputError, OptionReader, type Env, type OptionSpec, type OptionSpecs } from "./options.js";
