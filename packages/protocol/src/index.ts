export * from "./messages.js";
export * from "./registry.js";
export * from "./bulk.js";
export { digestOf, isCanonicalSignature, isCanonicalSignatureBytes, MESSAGE_TYPEHASH, nextHead, recoverAuthor } from "./digest.js";
export * from "./kafka-events.js";
export * from "./http.js";
export * from "./contracts.js";
export * from "./errors.js";
export * from "./verifier.js";
