/**
 * WELL-KNOWN DEVELOPMENT KEYS. NEVER USE THEM ON A REAL NETWORK.
 *
 * These are the public accounts of Hardhat's default mnemonic
 * ("test test test test test test test test test test test junk"); every local node
 * funds them. The local stack, the tests and the benchmarks use them so that nothing
 * secret ever lives in this repository.
 */
import { HDNodeWallet, Mnemonic } from "ethers";

export const DEV_MNEMONIC = "test test test test test test test test test test test junk";

/** The i-th development key (m/44'/60'/0'/0/i) as a 0x-prefixed private key. */
export function devPrivateKey(index: number): string {
  return HDNodeWallet.fromMnemonic(Mnemonic.fromPhrase(DEV_MNEMONIC), `m/44'/60'/0'/0/${index}`).privateKey;
}

/** Index 0 deploys and administers; 1 is the demo channel's admin; 2.. are members. */
export const DEV_ROLES = { deployer: 0, channelAdmin: 1, relayer: 9, firstMember: 2 } as const;
