/**
 * Evidence anyone can check offline: `chainmail audit --evidence FILE` writes the audited
 * block's header, the registry's storage proofs against it, every audited message log
 * (with its decoded fields) and the membership logs used; `chainmail verify-evidence FILE`
 * re-runs the same audit on the bundle alone, with no network, through the same verifier
 * and proof code, and prints the same verdict. The format is documented in the README.
 */
import { createHash } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import { toQuantity, type JsonRpcCaller, type RawAccountProof, type RawHeader } from "@chainmail/chain";
import { ChainMailError, decodeMessagePosted } from "@chainmail/protocol";
import { anchorRegistry, type Anchor, type Checkpoint } from "./anchor.js";
import type { AuditLogSource, BlockRange, ChannelState, ContractSignatureResult, RawLog } from "./log-source.js";
import type { AuditResult } from "./verifier.js";

export const EVIDENCE_FORMAT = "chainmail.evidence.v1";

export interface MessageFields {
  channel: string;
  seq: string;
  author: string;
  body: string;
  contentType: number;
  timestamp: string;
  replyTo: string;
  nonce: string;
  head: string;
  signature: string;
}

export interface EvidenceBundle {
  format: typeof EVIDENCE_FORMAT;
  manifest: {
    tool: string;
    createdAt: string;
    chainId: string;
    registry: string;
    fromBlock: number;
    block: number;
    blockHash: string;
    /** What the auditor trusted for the header when the bundle was written. */
    trusted: string;
    /** The verdict when written: verify-evidence must reach the same one. */
    verdict: { ok: boolean; discrepancies: number; messages: number; channels: number };
    /** sha256 (hex) of each section's JSON text, as written. */
    sections: Record<"header" | "proof" | "messages" | "membership", string>;
  };
  header: RawHeader;
  proof: { slots: string[]; answer: RawAccountProof };
  messages: Array<{ log: RawLog; fields: MessageFields }>;
  membership: RawLog[];
}

/** A bundle that is not what it claims; the message says where. */
export class EvidenceError extends ChainMailError {
  override name = "EvidenceError";
  constructor(message: string) {
    super("EvidenceRefused", message);
  }
}

const sha256 = (value: unknown) => createHash("sha256").update(JSON.stringify(value)).digest("hex");

function fieldsOf(registry: { chainId: bigint; address: string }, log: RawLog): MessageFields {
  const m = decodeMessagePosted(registry, log);
  return {
    channel: m.channel.toLowerCase(),
    seq: m.seq.toString(),
    author: m.author,
    body: String(m.body).toLowerCase(),
    contentType: Number(m.contentType),
    timestamp: BigInt(m.timestamp).toString(),
    replyTo: BigInt(m.replyTo).toString(),
    nonce: BigInt(m.nonce).toString(),
    head: m.head.toLowerCase(),
    signature: String(m.signature).toLowerCase(),
  };
}

/** The bundle for an audit run with `keepLogs` against a proving source. */
export function evidenceOf(result: AuditResult, tool: string): EvidenceBundle {
  const { anchor, logs, report } = result;
  if (!anchor?.proof || !logs) throw new EvidenceError("An evidence bundle needs an audit that proved the registry's state (a JSON-RPC source) and kept its logs.");
  const registry = { chainId: BigInt(report.registry.chainId), address: report.registry.address };
  const header = anchor.header;
  const proof = { slots: anchor.slots, answer: anchor.proof };
  const messages = logs.messages.map((log) => {
    let fields: MessageFields;
    try {
      fields = fieldsOf(registry, log);
    } catch {
      fields = null as unknown as MessageFields; // a malformed log: kept as is, the audit names it
    }
    return { log, fields };
  });
  const membership = logs.roles;
  return {
    format: EVIDENCE_FORMAT,
    manifest: {
      tool,
      createdAt: new Date().toISOString(),
      chainId: report.registry.chainId,
      registry: report.registry.address,
      fromBlock: report.fromBlock,
      block: anchor.block,
      blockHash: header.hash.toLowerCase(),
      trusted: anchor.trust.detail,
      verdict: { ok: report.ok, discrepancies: report.totals.discrepancies, messages: report.totals.messages, channels: report.totals.channels },
      sections: { header: sha256(header), proof: sha256(proof), messages: sha256(messages), membership: sha256(membership) },
    },
    header,
    proof,
    messages,
    membership,
  };
}

export async function writeEvidence(file: string, bundle: EvidenceBundle): Promise<void> {
  await writeFile(file, JSON.stringify(bundle, null, 1) + "\n");
}

/** Reads a bundle and checks its structure and manifest; throws EvidenceError naming what is wrong. */
export async function readEvidence(file: string): Promise<EvidenceBundle> {
  let bundle: EvidenceBundle;
  try {
    bundle = JSON.parse(await readFile(file, "utf8"));
  } catch (error) {
    throw new EvidenceError(`${file} is not a readable JSON evidence bundle (${(error as Error).message.split("\n")[0]}).`);
  }
  if (bundle?.format !== EVIDENCE_FORMAT) throw new EvidenceError(`${file} is not a ${EVIDENCE_FORMAT} bundle (format ${JSON.stringify(bundle?.format)}).`);
  for (const section of ["header", "proof", "messages", "membership"] as const) {
    if (bundle[section] === undefined) throw new EvidenceError(`The bundle has no ${section} section.`);
    const hash = sha256(bundle[section]);
    if (hash !== bundle.manifest?.sections?.[section]) {
      throw new EvidenceError(`The ${section} section does not match the manifest: it hashes to sha256 ${hash}, the manifest says ${bundle.manifest?.sections?.[section]}.`);
    }
  }
  return bundle;
}

/**
 * The bundle as an audit source, with no network: the header and eth_getProof answer are
 * served from the bundle to the same anchor code the online audit uses, so the proofs are
 * verified the same way; logs come from the bundle, checked against their decoded fields.
 */
export class EvidenceSource implements AuditLogSource {
  private readonly registry: { chainId: bigint; address: string };

  constructor(
    private readonly bundle: EvidenceBundle,
    private readonly checkpoint?: Checkpoint,
  ) {
    this.registry = { chainId: BigInt(bundle.manifest.chainId), address: bundle.manifest.registry };
    bundle.messages.forEach(({ log, fields }, i) => {
      let decoded: MessageFields | null = null;
      try {
        decoded = fieldsOf(this.registry, log);
      } catch {
        // malformed: the audit names it
      }
      if (decoded && JSON.stringify(decoded) !== JSON.stringify(fields)) {
        throw new EvidenceError(`Message ${i} (seq ${fields?.seq} of ${fields?.channel}): its fields differ from its log's (${Object.keys(decoded).filter((k) => decoded[k as keyof MessageFields] !== fields?.[k as keyof MessageFields]).join(", ")}).`);
      }
    });
  }

  async location() {
    return this.registry;
  }
  async range(): Promise<BlockRange> {
    return { fromBlock: this.bundle.manifest.fromBlock, toBlock: this.bundle.manifest.block };
  }
  /** The channel list and states are the proven ones (see anchor); these are only compared with them. */
  private proven?: Anchor;
  async anchor(atBlock: number): Promise<Anchor> {
    if (!this.proven) {
      const offline: JsonRpcCaller = {
        call: async <T>(method: string, params: unknown[]): Promise<T> => {
          if (method === "eth_getBlockByNumber" && params[0] === toQuantity(this.bundle.manifest.block)) return this.bundle.header as T;
          if (method === "eth_getProof") return structuredClone(this.bundle.proof.answer) as T;
          throw new EvidenceError(`The bundle cannot answer ${method}.`);
        },
      };
      this.proven = await anchorRegistry([{ url: "the evidence bundle", rpc: offline }], this.registry.address, atBlock, this.checkpoint);
    }
    return this.proven;
  }
  async channels(atBlock: number): Promise<string[]> {
    return (await this.anchor(atBlock)).channels ?? [];
  }
  async channelInfo(channel: string, atBlock: number): Promise<ChannelState> {
    return (await this.anchor(atBlock)).states?.get(channel) ?? { exists: false, open: false, seq: 0n, head: "0x" + "00".repeat(32) };
  }
  async *messageLogs(range: BlockRange & { channels?: string[] }): AsyncIterable<RawLog[]> {
    const wanted = range.channels && new Set(range.channels);
    yield this.bundle.messages.map((m) => m.log).filter((l) => !wanted || wanted.has(l.topics[1]?.toLowerCase()));
  }
  async *roleLogs(range: BlockRange & { roles: string[] }): AsyncIterable<RawLog[]> {
    const wanted = new Set(range.roles.map((r) => r.toLowerCase()));
    yield this.bundle.membership.filter((l) => wanted.has(l.topics[1]?.toLowerCase()));
  }
  async blockHash(n: number): Promise<string | undefined> {
    return n === this.bundle.manifest.block ? this.bundle.header.hash.toLowerCase() : undefined;
  }
  async contractSignature(): Promise<ContractSignatureResult> {
    // Offline, a contract wallet cannot be asked: such a signature stays unchecked.
    return "unavailable";
  }
}

