/**
 * Chain answers proven instead of trusted: a block header checked against its hash,
 * and Merkle-Patricia proofs (eth_getProof's account and storage proofs, a receipts-trie
 * proof) checked against the header's roots. Pure functions, no network: the audit uses
 * them online and `verify-evidence` offline.
 */
import { decodeRlp, encodeRlp, getBytes, hexlify, keccak256, toBeArray, zeroPadValue, type RlpStructuredData } from "ethers";
import { ChainMailError } from "@chainmail/protocol";

/** A block header as JSON-RPC's eth_getBlockByNumber returns it (the fields the hash covers, plus `hash`). */
export interface RawHeader {
  hash: string;
  number: string;
  parentHash: string;
  sha3Uncles: string;
  miner: string;
  stateRoot: string;
  transactionsRoot: string;
  receiptsRoot: string;
  logsBloom: string;
  difficulty: string;
  gasLimit: string;
  gasUsed: string;
  timestamp: string;
  extraData: string;
  mixHash: string;
  nonce: string;
  baseFeePerGas?: string;
  withdrawalsRoot?: string;
  blobGasUsed?: string;
  excessBlobGas?: string;
  parentBeaconBlockRoot?: string;
  requestsHash?: string;
}

/** The fields of a header in RLP order; `true` marks quantities (minimal big-endian bytes). */
const HEADER_FIELDS: Array<[keyof RawHeader, boolean]> = [
  ["parentHash", false], ["sha3Uncles", false], ["miner", false], ["stateRoot", false], ["transactionsRoot", false],
  ["receiptsRoot", false], ["logsBloom", false], ["difficulty", true], ["number", true], ["gasLimit", true],
  ["gasUsed", true], ["timestamp", true], ["extraData", false], ["mixHash", false], ["nonce", false],
];
/** Fields added by later forks (London, Shanghai, Cancun, Cancun, Cancun, Prague): present from one on, each needs the ones before. */
const FORK_FIELDS: Array<[keyof RawHeader, boolean]> = [
  ["baseFeePerGas", true], ["withdrawalsRoot", false], ["blobGasUsed", true], ["excessBlobGas", true],
  ["parentBeaconBlockRoot", false], ["requestsHash", false],
];

/** A proof, header or evidence item that does not verify; `code` names what. */
export class ProofError extends ChainMailError {
  override name = "ProofError";
  constructor(code: string, message: string) {
    super(code, message);
  }
}

const HEX = /^0x(?:[0-9a-fA-F]{2})*$/;

function field(header: RawHeader, name: keyof RawHeader, quantity: boolean): string {
  const value = header[name];
  if (typeof value !== "string") throw new ProofError("HeaderMalformed", `The header has no ${name}.`);
  if (quantity) {
    if (!/^0x[0-9a-fA-F]+$/.test(value)) throw new ProofError("HeaderMalformed", `The header's ${name} is not a quantity.`);
    return hexlify(toBeArray(BigInt(value)));
  }
  if (!HEX.test(value)) throw new ProofError("HeaderMalformed", `The header's ${name} is not hex bytes.`);
  return value;
}

/** keccak256 of the header's RLP encoding, for the fork its fields show. */
export function headerHash(header: RawHeader): string {
  const items = HEADER_FIELDS.map(([name, q]) => field(header, name, q));
  let missing: string | undefined;
  for (const [name, q] of FORK_FIELDS) {
    if (header[name] === undefined || header[name] === null) {
      missing ??= name;
      continue;
    }
    if (missing) throw new ProofError("HeaderMalformed", `The header has ${name} but not ${missing}, which comes before it.`);
    items.push(field(header, name, q));
  }
  return keccak256(encodeRlp(items));
}

/** The header's own hash is what it claims; throws ProofError otherwise. */
export function checkHeader(header: RawHeader): void {
  const computed = headerHash(header);
  if (computed !== header.hash?.toLowerCase()) {
    throw new ProofError("HeaderHashMismatch", `Block ${Number(header.number)}'s header fields hash to ${computed}, not to its claimed hash ${header.hash}.`);
  }
}

function nibbles(bytes: Uint8Array): number[] {
  const out: number[] = [];
  for (const b of bytes) out.push(b >> 4, b & 15);
  return out;
}

/**
 * Walks a Merkle-Patricia proof (the RLP-encoded nodes from the root down) for `key`
 * (the trie path: keccak256 of an address or slot, or rlp(index) for receipts). Returns
 * the value stored there, or null when the proof shows there is none. Throws ProofError
 * when the proof does not hang together or does not start at `root`.
 */
export function verifyMptProof(root: string, key: Uint8Array, proof: readonly string[], what: string): string | null {
  const path = nibbles(key);
  let position = 0;
  let used = 0;
  const fetch = (hash: string): RlpStructuredData => {
    const encoded = proof[used];
    if (encoded === undefined) throw new ProofError("ProofIncomplete", `${what}: the proof ends before the path does (node ${used} missing).`);
    if (!HEX.test(encoded)) throw new ProofError("ProofMalformed", `${what}: proof node ${used} is not hex.`);
    if (keccak256(encoded) !== hash.toLowerCase()) {
      throw new ProofError("ProofNodeMismatch", `${what}: proof node ${used} hashes to ${keccak256(encoded)}, not to ${hash} that ${used === 0 ? "the root" : "its parent"} names.`);
    }
    used++;
    try {
      return decodeRlp(encoded);
    } catch {
      throw new ProofError("ProofMalformed", `${what}: proof node ${used - 1} is not RLP.`);
    }
  };
  const done = (value: string | null) => {
    if (used !== proof.length) throw new ProofError("ProofMalformed", `${what}: the proof has ${proof.length - used} node(s) beyond the path.`);
    return value;
  };
  let node = fetch(root);
  for (;;) {
    if (!Array.isArray(node)) throw new ProofError("ProofMalformed", `${what}: a trie node is not a list.`);
    let child: RlpStructuredData;
    if (node.length === 17) {
      if (position === path.length) return done(node[16] === "0x" ? null : (node[16] as string));
      child = node[path[position++]];
    } else if (node.length === 2) {
      const encodedPath = nibbles(getBytes(node[0] as string));
      const flag = encodedPath[0];
      if (flag === undefined || flag > 3) throw new ProofError("ProofMalformed", `${what}: a trie node's path prefix is invalid.`);
      const part = encodedPath.slice(flag & 1 ? 1 : 2);
      const rest = path.slice(position, position + part.length);
      const matches = rest.length === part.length && rest.every((n, i) => n === part[i]);
      if (flag >= 2) return done(matches && position + part.length === path.length ? (node[1] as string) : null); // leaf
      if (!matches) return done(null); // extension that leads elsewhere: the key is absent
      position += part.length;
      child = node[1];
    } else {
      throw new ProofError("ProofMalformed", `${what}: a trie node has ${node.length} items.`);
    }
    if (Array.isArray(child)) node = child; // a node under 32 bytes is embedded in its parent
    else if (child === "0x") return done(null);
    else if (typeof child === "string" && child.length === 66) node = fetch(child);
    else throw new ProofError("ProofMalformed", `${what}: a trie node names a child that is neither a hash nor an embedded node.`);
  }
}

/** eth_getProof's answer. */
export interface RawAccountProof {
  address: string;
  accountProof: string[];
  balance: string;
  codeHash: string;
  nonce: string;
  storageHash: string;
  storageProof: Array<{ key: string; value: string; proof: string[] }>;
}

export interface ProvenStorage {
  storageRoot: string;
  /** Slot (0x 32-byte, lowercase) -> proven value (0x 32-byte word). */
  slots: Map<string, string>;
}

const word = (hex: string) => zeroPadValue(hex === "0x" ? "0x00" : hexlify(toBeArray(BigInt(hex))), 32).toLowerCase();

/**
 * Checks an eth_getProof answer against a state root: the account proof gives the
 * account's storage root, each storage proof the slot's value under it. The values are
 * the ones the proofs give, never the node's claimed `value` fields (which are only
 * compared).
 */
export function verifyAccountStorage(stateRoot: string, address: string, answer: RawAccountProof, slots: readonly string[]): ProvenStorage {
  const account = verifyMptProof(stateRoot, getBytes(keccak256(address)), answer.accountProof, `Account proof of ${address}`);
  if (account === null) throw new ProofError("AccountAbsent", `The state at root ${stateRoot} has no account ${address}.`);
  const fields = decodeRlp(account);
  if (!Array.isArray(fields) || fields.length !== 4) throw new ProofError("ProofMalformed", `Account ${address}'s proven value is not [nonce, balance, storageRoot, codeHash].`);
  const storageRoot = (fields[2] as string).toLowerCase();
  if (answer.storageHash?.toLowerCase() !== storageRoot) {
    throw new ProofError("ProofValueMismatch", `Account ${address}: the node says storage root ${answer.storageHash}, the proof says ${storageRoot}.`);
  }
  const proven = new Map<string, string>();
  for (const slot of slots) {
    const key = zeroPadValue(slot, 32).toLowerCase();
    const entry = answer.storageProof.find((p) => word(p.key) === key);
    if (!entry) throw new ProofError("ProofIncomplete", `No storage proof for slot ${key} of ${address}.`);
    const value = verifyMptProof(storageRoot, getBytes(keccak256(key)), entry.proof, `Storage proof of slot ${key}`);
    const provenValue = value === null ? word("0x") : word(decodeRlp(value) as string);
    if (word(entry.value) !== provenValue) {
      throw new ProofError("ProofValueMismatch", `Slot ${key} of ${address}: the node says ${entry.value}, the proof says ${provenValue}.`);
    }
    proven.set(key, provenValue);
  }
  return { storageRoot, slots: proven };
}

/** A trie node as RLP data: a branch of 17 items, or a [path, child-or-value] pair. */
type TrieNode = RlpStructuredData;

/** The compact (hex-prefix) encoding of a nibble path, flagged as a leaf's or an extension's. */
function hexPrefix(path: number[], leaf: boolean): string {
  const odd = path.length % 2;
  const all = [(leaf ? 2 : 0) + odd, ...(odd ? [] : [0]), ...path];
  const bytes = new Uint8Array(all.length / 2);
  for (let i = 0; i < bytes.length; i++) bytes[i] = (all[2 * i] << 4) | all[2 * i + 1];
  return hexlify(bytes);
}

interface TrieEntry {
  path: number[];
  value: string;
}

/**
 * A Merkle-Patricia trie built from all its entries (as a block's receipts trie is):
 * its root, and for any key a proof in the form verifyMptProof walks (the nodes stored
 * by hash, root first; nodes whose encoding is under 32 bytes are embedded in their
 * parents, as Ethereum does).
 */
export class MerkleTrie {
  private readonly top: TrieNode;
  private readonly byHash = new Map<string, TrieNode>();

  constructor(entries: ReadonlyArray<{ key: Uint8Array; value: string }>) {
    this.top = this.node(entries.map((e) => ({ path: nibbles(e.key), value: hexlify(e.value) })), 0);
  }

  /** The root hash (the empty trie's is keccak256(rlp(""))). */
  get root(): string {
    return keccak256(encodeRlp(this.top));
  }

  /** The proof nodes on `key`'s path, root first (also for an absent key: they show its absence). */
  proof(key: Uint8Array): string[] {
    const path = nibbles(key);
    const nodes = [encodeRlp(this.top)];
    let node = this.top;
    let position = 0;
    for (;;) {
      let child: TrieNode;
      if (!Array.isArray(node)) return nodes; // the empty trie
      if (node.length === 17) {
        if (position === path.length) return nodes;
        child = node[path[position++]];
      } else {
        const encodedPath = nibbles(getBytes(node[0] as string));
        if (encodedPath[0] >= 2) return nodes; // a leaf
        const part = encodedPath.slice(encodedPath[0] & 1 ? 1 : 2);
        if (!part.every((n, i) => path[position + i] === n)) return nodes;
        position += part.length;
        child = node[1];
      }
      if (Array.isArray(child)) node = child;
      else if (child === "0x") return nodes;
      else {
        node = this.byHash.get(child)!;
        nodes.push(encodeRlp(node));
      }
    }
  }

  /** The node for `entries`, which share their first `depth` nibbles. */
  private node(entries: TrieEntry[], depth: number): TrieNode {
    if (entries.length === 0) return "0x";
    if (entries.length === 1) return [hexPrefix(entries[0].path.slice(depth), true), entries[0].value];
    const first = entries[0].path;
    let common = 0;
    while (entries.every((e) => depth + common < e.path.length && e.path[depth + common] === first[depth + common])) common++;
    if (common > 0) return [hexPrefix(first.slice(depth, depth + common), false), this.child(entries, depth + common)];
    const branch: TrieNode[] = [];
    for (let n = 0; n < 16; n++) {
      const under = entries.filter((e) => e.path.length > depth && e.path[depth] === n);
      branch.push(under.length === 0 ? "0x" : this.child(under, depth + 1));
    }
    branch.push(entries.find((e) => e.path.length === depth)?.value ?? "0x");
    return branch;
  }

  /** A child as its parent holds it: embedded when its encoding is under 32 bytes, else its hash. */
  private child(entries: TrieEntry[], depth: number): TrieNode {
    const node = this.node(entries, depth);
    const encoded = encodeRlp(node);
    if (getBytes(encoded).length < 32) return node;
    const hash = keccak256(encoded);
    this.byHash.set(hash, node);
    return hash;
  }
}

/** A transaction receipt as JSON-RPC returns it (the fields its consensus encoding covers, plus where it sits). */
export interface RawReceiptForTrie {
  type?: string;
  status?: string;
  /** Pre-Byzantium receipts carry a state root instead of a status. */
  root?: string;
  cumulativeGasUsed: string;
  logsBloom: string;
  logs: Array<{ address: string; topics: string[]; data: string }>;
  transactionIndex: string;
}

/** The receipts trie's key for the transaction at `index`: rlp(index). */
export function receiptKey(index: number): Uint8Array {
  return getBytes(encodeRlp(index === 0 ? "0x" : hexlify(toBeArray(index))));
}

/**
 * A receipt's consensus encoding (the value the receipts trie holds): rlp([status or
 * root, cumulativeGasUsed, logsBloom, logs]) for legacy receipts, and the type byte
 * followed by that for typed ones (EIP-2718: 0x01, 0x02, 0x03, 0x04 share the payload).
 */
export function encodeReceipt(receipt: RawReceiptForTrie): string {
  const quantity = (value: string, name: string) => {
    if (!/^0x[0-9a-fA-F]+$/.test(value ?? "")) throw new ProofError("ReceiptMalformed", `The receipt's ${name} is not a quantity.`);
    return BigInt(value) === 0n ? "0x" : hexlify(toBeArray(BigInt(value)));
  };
  const bytes = (value: string, name: string) => {
    if (typeof value !== "string" || !HEX.test(value)) throw new ProofError("ReceiptMalformed", `The receipt's ${name} is not hex bytes.`);
    return value;
  };
  const outcome = receipt.status !== undefined && receipt.status !== null ? quantity(receipt.status, "status") : bytes(receipt.root!, "root");
  if (!Array.isArray(receipt.logs)) throw new ProofError("ReceiptMalformed", "The receipt's logs are not a list.");
  const payload = encodeRlp([
    outcome,
    quantity(receipt.cumulativeGasUsed, "cumulativeGasUsed"),
    bytes(receipt.logsBloom, "logsBloom"),
    receipt.logs.map((l, i) => [bytes(l.address, `log ${i} address`), l.topics.map((t, j) => bytes(t, `log ${i} topic ${j}`)), bytes(l.data, `log ${i} data`)]),
  ]);
  const type = receipt.type === undefined ? 0 : Number(quantity(receipt.type, "type") === "0x" ? 0 : BigInt(receipt.type));
  if (type === 0) return payload;
  if (type > 0x7f) throw new ProofError("ReceiptMalformed", `Receipt type ${type} is not an EIP-2718 type.`);
  return hexlify(new Uint8Array([type, ...getBytes(payload)]));
}

/** The receipts trie of a block from all its receipts (in transaction order). */
export function receiptsTrie(receipts: readonly RawReceiptForTrie[]): MerkleTrie {
  return new MerkleTrie(receipts.map((r, i) => ({ key: receiptKey(i), value: encodeReceipt(r) })));
}
