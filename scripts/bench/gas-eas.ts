/**
 * Baseline: the Ethereum Attestation Service (npm @ethereum-attestation-service/eas-contracts,
 * the ABI and bytecode the package ships, compiled by its authors with solc 0.8.29),
 * deployed on the same chain. An attester signs a delegated attestation (EIP-712) and
 * another account submits it with `attestByDelegation`, as a relayer would.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import {
  AbiCoder,
  Contract,
  ContractFactory,
  hexlify,
  randomBytes,
  Signature,
  ZeroAddress,
  ZeroHash,
  type InterfaceAbi,
  type Signer,
  type TransactionReceipt,
  type Wallet,
} from "ethers";

const PACKAGE = "node_modules/@ethereum-attestation-service/eas-contracts";

const ATTEST_TYPES = {
  Attest: [
    { name: "attester", type: "address" },
    { name: "schema", type: "bytes32" },
    { name: "recipient", type: "address" },
    { name: "expirationTime", type: "uint64" },
    { name: "revocable", type: "bool" },
    { name: "refUID", type: "bytes32" },
    { name: "data", type: "bytes" },
    { name: "value", type: "uint256" },
    { name: "nonce", type: "uint256" },
    { name: "deadline", type: "uint64" },
  ],
};

interface Artifact {
  abi: InterfaceAbi;
  bytecode: string;
  deployedBytecode: string;
}

function artifact(repoRoot: string, name: string): Artifact {
  return JSON.parse(readFileSync(path.join(repoRoot, PACKAGE, `artifacts/contracts/${name}.sol/${name}.json`), "utf8"));
}

/** The solc version in the CBOR metadata at the end of the runtime bytecode ("solc" key). */
export function solcVersionOf(deployedBytecode: string): string | undefined {
  const i = deployedBytecode.lastIndexOf("64736f6c6343");
  if (i < 0) return undefined;
  const v = deployedBytecode.slice(i + 12, i + 18);
  return [0, 2, 4].map((o) => parseInt(v.slice(o, o + 2), 16)).join(".");
}

export interface EasVariant {
  schema: string;
  payloadBytes: number;
  /** Length of the attestation's `data` (the payload ABI-encoded for the schema). */
  dataBytes: number;
  /** First attestation of the attester: its EAS nonce goes 0 -> 1 (zero-to-nonzero SSTORE). */
  gasCold: number;
  /** Mean of the following attestations (nonce already non-zero). */
  gasWarm: number;
  warmSamples: number;
}

export interface EasResult {
  packageVersion: string;
  solc: string | undefined;
  easVersion: string;
  method: string;
  /** Headline: steady state, schema "bytes payload". */
  gasPerAttestation: number;
  gasPerAttestationCold: number;
  variants: EasVariant[];
  /** multiAttestByDelegation: one attester, several delegated attestations in one transaction. */
  multi?: { attestations: number; gasUsed: number; gasPerAttestation: number };
  receipts: TransactionReceipt[];
}

export async function benchEas(
  repoRoot: string,
  deployer: Signer,
  submitter: Signer,
  attesters: Wallet[],
  log: (line: string) => void,
): Promise<EasResult> {
  const pkg = JSON.parse(readFileSync(path.join(repoRoot, PACKAGE, "package.json"), "utf8"));
  const registryArtifact = artifact(repoRoot, "SchemaRegistry");
  const easArtifact = artifact(repoRoot, "EAS");
  const schemaRegistry = await new ContractFactory(registryArtifact.abi, registryArtifact.bytecode, deployer).deploy();
  await schemaRegistry.waitForDeployment();
  const easDeployed = await new ContractFactory(easArtifact.abi, easArtifact.bytecode, deployer).deploy(
    await schemaRegistry.getAddress(),
  );
  await easDeployed.waitForDeployment();
  const eas = new Contract(await easDeployed.getAddress(), easArtifact.abi, submitter);
  const registry = new Contract(await schemaRegistry.getAddress(), registryArtifact.abi, deployer);
  const domainFields = await eas.eip712Domain();
  const network = await deployer.provider!.getNetwork();
  const domain = {
    name: domainFields.name as string,
    version: domainFields.version as string,
    chainId: network.chainId,
    verifyingContract: await eas.getAddress(),
  };
  log(`  EAS ${await eas.version()} at ${domain.verifyingContract} (domain ${domain.name} ${domain.version})`);

  const register = async (schema: string): Promise<string> => {
    const receipt: TransactionReceipt = await (await registry.register(schema, ZeroAddress, true)).wait();
    const event = receipt.logs.map((l) => registry.interface.parseLog(l)).find((e) => e?.name === "Registered");
    return event!.args.uid as string;
  };

  // recipient 0, no expiration, no refUID, no value, no deadline: the cheapest attestation
  // EAS can store, so the baseline is as favourable to EAS as it can be.
  const request = (data: string) => ({
    recipient: ZeroAddress,
    expirationTime: 0n,
    revocable: true,
    refUID: ZeroHash,
    data,
    value: 0n,
  });
  const signAttest = async (attester: Wallet, schema: string, data: string, nonce: bigint) => {
    const sig = Signature.from(
      await attester.signTypedData(domain, ATTEST_TYPES, {
        attester: attester.address,
        schema,
        ...request(data),
        nonce,
        deadline: 0n,
      }),
    );
    return { v: sig.v, r: sig.r, s: sig.s };
  };

  const receipts: TransactionReceipt[] = [];
  const attestedTopic = eas.interface.getEvent("Attested")!.topicHash;
  const checked = (receipt: TransactionReceipt, expected: number) => {
    const n = receipt.logs.filter((l) => l.topics[0] === attestedTopic).length;
    if (receipt.status !== 1 || n !== expected) throw new Error(`EAS: expected ${expected} Attested events, got ${n}`);
    receipts.push(receipt);
    return receipt;
  };

  const coder = AbiCoder.defaultAbiCoder();
  const variants: EasVariant[] = [];
  const WARM = 5;
  const cases = [
    // As an EAS user would: schema "bytes payload", data = abi.encode(payload) (320 bytes).
    { schema: "bytes payload", encode: (p: string) => coder.encode(["bytes"], [p]) },
    // Fairest to EAS: a static schema whose encoding is exactly the 256 payload bytes.
    {
      schema: "bytes32[8] payload",
      encode: (p: string) => coder.encode(["bytes32[8]"], [Array.from({ length: 8 }, (_, i) => "0x" + p.slice(2 + i * 64, 2 + (i + 1) * 64))]),
    },
  ];
  for (const [index, c] of cases.entries()) {
    const uid = await register(c.schema);
    const attester = attesters[index];
    // Pre-sign everything first: nonces 0..WARM of this attester.
    const signed = [];
    for (let n = 0; n <= WARM; n++) {
      const data = c.encode(hexlify(randomBytes(256)));
      signed.push({ data, signature: await signAttest(attester, uid, data, BigInt(n)) });
    }
    const gas: number[] = [];
    for (const s of signed) {
      const tx = await eas.attestByDelegation({
        schema: uid,
        data: request(s.data),
        signature: s.signature,
        attester: attester.address,
        deadline: 0n,
      });
      gas.push(Number(checked(await tx.wait(), 1).gasUsed));
    }
    const warm = gas.slice(1);
    variants.push({
      schema: c.schema,
      payloadBytes: 256,
      dataBytes: (signed[0].data.length - 2) / 2,
      gasCold: gas[0],
      gasWarm: warm.reduce((a, b) => a + b, 0) / warm.length,
      warmSamples: warm.length,
    });
  }

  // A batch for EAS too: multiAttestByDelegation of 10 by one (warm) attester, "bytes payload".
  let multi: EasResult["multi"];
  {
    const MULTI = 10;
    const uid = await register("bytes payload multi");
    const attester = attesters[0];
    const nonce0 = BigInt(await eas.getNonce(attester.address));
    const data: ReturnType<typeof request>[] = [];
    const signatures = [];
    for (let i = 0; i < MULTI; i++) {
      const d = cases[0].encode(hexlify(randomBytes(256)));
      data.push(request(d));
      signatures.push(await signAttest(attester, uid, d, nonce0 + BigInt(i)));
    }
    const tx = await eas.multiAttestByDelegation([{ schema: uid, data, signatures, attester: attester.address, deadline: 0n }]);
    const gasUsed = Number(checked(await tx.wait(), MULTI).gasUsed);
    multi = { attestations: MULTI, gasUsed, gasPerAttestation: gasUsed / MULTI };
  }

  return {
    packageVersion: pkg.version,
    solc: solcVersionOf(easArtifact.deployedBytecode),
    easVersion: await eas.version(),
    method: "attestByDelegation",
    gasPerAttestation: variants[0].gasWarm,
    gasPerAttestationCold: variants[0].gasCold,
    variants,
    multi,
    receipts,
  };
}
