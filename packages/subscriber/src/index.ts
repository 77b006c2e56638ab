export { tail, type TailHandle, type TailOptions } from "./tail.js";
export { ChainChecker, type ChainBreak, type CheckOutcome } from "./chain-check.js";
export type { MessageEvent } from "@chainmail/protocol";
