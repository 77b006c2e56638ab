/**
 * The contracts as the off-chain side uses them: typed bindings generated from the
 * Hardhat build (`scripts/contracts.mjs` copies them into `generated/`), so the ABI and
 * bytecode here are always those of the compiled `contracts/`.
 */
import { MessageProbe__factory } from "./generated/index.js";

export { MessageProbe__factory, MessageRegistry__factory } from "./generated/index.js";
export type { MessageRegistry } from "./generated/index.js";

/** MessageProbe's creation code: the relayer runs it in an `eth_call`, never deploys it. */
export const MESSAGE_PROBE_BYTECODE: string = MessageProbe__factory.bytecode;
