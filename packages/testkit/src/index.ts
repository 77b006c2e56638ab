export * from "./dev-keys.js";
export * from "./deploy.js";
export * from "./hardhat-node.js";
export * from "./kafka.js";
export * from "./chainmail-process.js";
export * from "./fuzz.js";
export * from "./geth-node.js";
