export * from "./messages.js";
export * from "./events.js";
export * from "./bulk.js";
export * from "./digester.js";
