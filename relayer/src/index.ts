export { buildApp, type BuildOptions, type RelayerApp } from "./app.js";
export { CONFIG_DEFAULTS, ConfigError, configFrom, ENV_VARIABLES, loadConfig, RELAYER_OPTIONS, type GasMode, type RelayerConfig } from "./config.js";
export { OutcomeIndex } from "./outcomes.js";
export { STAGES, stageSummaries, type Stage, type StageSummary } from "./stage-timings.js";
