import { createRequire } from "node:module";
import hardhatToolboxMochaEthers from "@nomicfoundation/hardhat-toolbox-mocha-ethers";
import { configVariable, defineConfig } from "hardhat/config";
import chainmailPlugin from "./tasks/index.js";

// No compiler downloads on these machines: compile with the soljson.js that the npm
// package `solc` ships. Hardhat does not read its version from the file, so take it
// from the package.
const require = createRequire(import.meta.url);
const solcVersion: string = require("solc/package.json").version;

export default defineConfig({
  plugins: [hardhatToolboxMochaEthers, chainmailPlugin],
  typechain: { outDir: "typechain-types" },
  // Tests point Ignition's deployment records at a scratch folder so they never touch a
  // developer's own records under ignition/deployments.
  paths: { ignition: process.env.CHAINMAIL_IGNITION_DIR ?? "ignition" },
  solidity: {
    version: solcVersion,
    path: require.resolve("solc/soljson.js"),
    settings: {
      evmVersion: "cancun",
      viaIR: true,
      optimizer: { enabled: true, runs: 10_000 },
    },
  },
  networks: {
    localhost: {
      type: "http",
      chainType: "l1",
      url: process.env.CHAINMAIL_RPC_URL ?? "http://127.0.0.1:8545",
    },
    // Any other JSON-RPC chain (a private network, geth --dev); the deployer key comes
    // from the environment or Hardhat's keystore, never from the repository.
    custom: {
      type: "http",
      chainType: "l1",
      url: configVariable("CHAINMAIL_RPC_URL"),
      accounts: [configVariable("CHAINMAIL_DEPLOYER_KEY")],
    },
  },
});
