export * from "./messages.js";
export * from "./events.js";
