// Brings the contracts' build output into this package: the TypeChain bindings that
// `hardhat build` writes to the repository's typechain-types/ (the registry's ABI,
// bytecode and typed interface) and MessageProbe's, as src/generated/. Run after
// `hardhat build`, before `tsc -b`; the generated folder is not committed.
import { cpSync, existsSync, rmSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const pkg = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const source = path.resolve(pkg, "../../typechain-types");
const target = path.join(pkg, "src/generated");

if (!existsSync(path.join(source, "index.ts"))) {
  console.error(`protocol: ${source} has no TypeChain output; run "hardhat build" first.`);
  process.exit(1);
}
rmSync(target, { recursive: true, force: true });
// hardhat.d.ts augments Hardhat's own types; this package does not depend on Hardhat.
cpSync(source, target, { recursive: true, filter: (file) => !file.endsWith("hardhat.d.ts") });
