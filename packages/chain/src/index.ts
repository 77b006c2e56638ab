export * from "./rpc.js";
