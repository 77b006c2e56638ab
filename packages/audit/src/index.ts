/** ChainMail audit as a library: verifier, log sources, Kafka comparison, outputs. */
export * from "./types.js";
export * from "./log-source.js";
export * from "./chain-source.js";
export * from "./kafka.js";
export * from "./membership.js";
export * from "./prepare.js";
export * from "./verifier.js";
export * from "./report.js";
export * from "./run.js";
export * from "./evidence.js";
export * from "./anchor.js";
export * from "./message-proof.js";
