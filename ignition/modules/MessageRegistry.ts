import { buildModule } from "@nomicfoundation/hardhat-ignition/modules";

/**
 * Deploys the registry with the deploying account as registry admin. Limits are
 * parameters so that a private network can choose its own (see `hardhat chainmail deploy --help`).
 */
export default buildModule("MessageRegistryModule", (m) => {
  const limits = {
    maxBodyBytes: m.getParameter("maxBodyBytes", 4096),
    maxAge: m.getParameter("maxAge", 3600),
    maxFutureSkew: m.getParameter("maxFutureSkew", 300),
  };
  const registry = m.contract("MessageRegistry", [m.getAccount(0), limits]);
  return { registry };
});
