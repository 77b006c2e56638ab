import { buildModule } from "@nomicfoundation/hardhat-ignition/modules";
import { DEFAULT_LIMITS } from "@chainmail/protocol/limits";

/**
 * Deploys the registry with the deploying account as registry admin. Limits are
 * parameters so that a private network can choose its own (see `hardhat chainmail deploy --help`).
 */
export default buildModule("MessageRegistryModule", (m) => {
  const limits = {
    maxBodyBytes: m.getParameter("maxBodyBytes", DEFAULT_LIMITS.maxBodyBytes),
    maxAge: m.getParameter("maxAge", DEFAULT_LIMITS.maxAge),
    maxFutureSkew: m.getParameter("maxFutureSkew", DEFAULT_LIMITS.maxFutureSkew),
  };
  const registry = m.contract("MessageRegistry", [m.getAccount(0), limits]);
  return { registry };
});
