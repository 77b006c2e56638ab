#!/usr/bin/env node
// A `solc` command line for Slither (crytic-compile), around the npm `solc` (soljson.js)
// that the build already uses: no compiler download. It answers the two calls
// crytic-compile makes with --solc-standard-json: `--version`, and `--standard-json`
// (input on stdin, output on stdout). Sources given as "urls" and imports are read from
// disk relative to the working directory (the repository root).
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";

const require = createRequire(import.meta.url);
const solc = require("solc");
const args = process.argv.slice(2);

if (args.includes("--version")) {
  console.log(`solc, the solidity compiler commandline interface\nVersion: ${solc.version()}`);
  process.exit(0);
}
if (!args.includes("--standard-json")) {
  console.error(`solc.mjs: only --version and --standard-json are supported (got: ${args.join(" ")}).`);
  process.exit(2);
}

const read = (file) => readFileSync(path.resolve(file), "utf8");
const input = JSON.parse(readFileSync(0, "utf8"));
for (const source of Object.values(input.sources)) {
  if (source.content === undefined && source.urls) source.content = read(source.urls[0]);
  delete source.urls;
}
// The project's compiler settings (hardhat.config.ts): the registry needs the IR pipeline
// (legacy code generation runs out of stack slots in postBatch).
input.settings = { ...input.settings, viaIR: true, evmVersion: "cancun", optimizer: { enabled: true, runs: 10_000 } };
const findImports = (file) => {
  try {
    return { contents: read(file) };
  } catch {
    return { error: `File not found: ${file}` };
  }
};
process.stdout.write(solc.compile(JSON.stringify(input), { import: findImports }));
