/**
 * The limits a registry is deployed with unless told otherwise; its admin may change
 * them later (`setLimits`), and the relayer reads the live ones from the chain. A module
 * of its own, with no imports, so that the Hardhat tasks and the Ignition module can read
 * these numbers (`@chainmail/protocol/limits`) without loading the protocol at every start.
 */
export interface RegistryLimits {
  /** Longest body in bytes. */
  maxBodyBytes: number;
  /** Oldest a message may be when it lands, in seconds. */
  maxAge: number;
  /** How far ahead of the chain's clock a timestamp may be, in seconds. */
  maxFutureSkew: number;
}

export const DEFAULT_LIMITS: Readonly<RegistryLimits> = Object.freeze({ maxBodyBytes: 4096, maxAge: 3600, maxFutureSkew: 300 });
