// Worker-thread entry for the audit's prepare step. Plain JS so that Node can start it
// whatever loaded the parent (tsx, mocha, Hardhat): it registers tsx itself, then loads
// the TypeScript module that does the work.
import { register } from "tsx/esm/api";

register();
await import("./prepare-worker-main.ts");
