export * from "./errors.js";
export * from "./quantity.js";
export * from "./client.js";
export * from "./provider.js";
export * from "./logs.js";
export * from "./finality.js";
export * from "./proof.js";
export * from "./client-kind.js";
