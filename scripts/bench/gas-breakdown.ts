/**
 * Where the gas of one batch goes, two ways:
 *  - estimated: from the EVM price list applied to the actual calldata bytes, the actual
 *    event sizes and the storage accesses the contract makes;
 *  - traced: from debug_traceTransaction, the real cost of every opcode, grouped.
 * Both are per message (the transaction's figure divided by its message count).
 */
import { MESSAGE_POSTED_TOPIC } from "@chainmail/protocol";
import type { TransactionReceipt } from "ethers";

// Prices (Berlin+ / Cancun / Osaka).
const TX_BASE = 21_000;
const CALLDATA_ZERO = 4;
const CALLDATA_NONZERO = 16;
const FLOOR_PER_TOKEN = 10; // EIP-7623: tokens = zero bytes + 4 * non-zero bytes
const LOG_BASE = 375;
const LOG_TOPIC = 375;
const LOG_BYTE = 8;
const ECRECOVER = 3_000;
const WARM_ACCESS = 100;
const COLD_SLOAD = 2_100;
const SSTORE_RESET = 2_900; // non-zero -> other non-zero, slot already warm
const SSTORE_SET = 20_000; // zero -> non-zero, slot already warm
const KECCAK_BASE = 30;
const KECCAK_WORD = 6;

const keccakCost = (bytes: number) => KECCAK_BASE + KECCAK_WORD * Math.ceil(bytes / 32);

export interface CalldataStats {
  bytes: number;
  zeroBytes: number;
  nonZeroBytes: number;
  /** 4 gas per zero byte, 16 per non-zero byte. */
  gas: number;
  /** EIP-7623 floor (Prague+): the transaction pays at least 21,000 + this. */
  floorGas: number;
}

export function calldataStats(data: string): CalldataStats {
  const hex = data.startsWith("0x") ? data.slice(2) : data;
  let zeroBytes = 0;
  for (let i = 0; i < hex.length; i += 2) if (hex[i] === "0" && hex[i + 1] === "0") zeroBytes++;
  const bytes = hex.length / 2;
  const nonZeroBytes = bytes - zeroBytes;
  return {
    bytes,
    zeroBytes,
    nonZeroBytes,
    gas: zeroBytes * CALLDATA_ZERO + nonZeroBytes * CALLDATA_NONZERO,
    floorGas: FLOOR_PER_TOKEN * (zeroBytes + 4 * nonZeroBytes),
  };
}

export interface LogStats {
  logs: number;
  topics: number;
  dataBytes: number;
  gas: number;
}

export function messagePostedLogStats(receipt: TransactionReceipt): LogStats {
  const logs = receipt.logs.filter((l) => l.topics[0] === MESSAGE_POSTED_TOPIC);
  let topics = 0;
  let dataBytes = 0;
  for (const l of logs) {
    topics += l.topics.length;
    dataBytes += (l.data.length - 2) / 2;
  }
  return { logs: logs.length, topics, dataBytes, gas: logs.length * LOG_BASE + topics * LOG_TOPIC + dataBytes * LOG_BYTE };
}

export type Category = "intrinsic" | "calldata" | "log" | "ecrecover" | "keccak" | "sload" | "sstore" | "other";

export const CATEGORY_LABELS: Record<Category, string> = {
  intrinsic: "intrinsic (21,000 per tx)",
  calldata: "calldata (4/16 per zero/non-zero byte)",
  log: "MessagePosted log (375 + 375/topic + 8/byte)",
  ecrecover: "ecrecover (3,000 + 100 STATICCALL)",
  keccak: "keccak256 (digest, struct, body, head, mapping slots)",
  sload: "SLOAD (pause, limits, channel, membership, nonce word)",
  sstore: "SSTORE (nonce bitmap; channel head/seq amortised)",
  other: "other execution (ABI decoding, copies, memory, checks)",
};

export interface BreakdownRow {
  component: Category;
  label: string;
  estimated: number | null;
  traced: number | null;
  note: string;
}

export interface Breakdown {
  bodyBytes: number;
  messages: number;
  authors: number;
  state: "warm" | "cold";
  measuredGasUsed: number;
  measuredGasPerMessage: number;
  calldata: CalldataStats & { bytesPerMessage: number; zeroPerMessage: number; nonZeroPerMessage: number };
  log: LogStats & { dataBytesPerMessage: number; topicsPerLog: number };
  calldataFloorApplies: boolean;
  rows: BreakdownRow[];
  estimatedTotalPerMessage: number;
  tracedTotalPerMessage: number | null;
  /** gasUsed - (21,000 + calldata + sum of traced opcode costs): refunds or a floor; 0 expected. */
  traceResidual: number | null;
}

interface StructLog {
  op: string;
  gas: number;
  gasCost: number;
  depth: number;
}

/** Sums the real cost of every opcode of the transaction, grouped by category. */
export async function traceCategories(
  send: (method: string, params: unknown[]) => Promise<unknown>,
  hash: string,
): Promise<Record<Category, number> | null> {
  let trace: { structLogs?: StructLog[] };
  try {
    trace = (await send("debug_traceTransaction", [
      hash,
      { disableMemory: true, disableStack: true, disableStorage: true, enableMemory: false },
    ])) as { structLogs?: StructLog[] };
  } catch {
    return null;
  }
  const steps = trace.structLogs ?? [];
  if (steps.length === 0) return null;
  const ops = new Map<string, number>();
  const sums: Record<Category, number> = { intrinsic: 0, calldata: 0, log: 0, ecrecover: 0, keccak: 0, sload: 0, sstore: 0, other: 0 };
  for (let i = 0; i < steps.length; i++) {
    const step = steps[i];
    const next = steps[i + 1];
    // The drop in remaining gas to the next step at the same depth is the whole cost of
    // the step, including memory expansion and, for a precompile call, the precompile.
    const cost = next && next.depth === step.depth ? step.gas - next.gas : step.gasCost;
    sums[categoryOf(step.op)] += cost;
    if (process.env.GAS_OPCODES && categoryOf(step.op) === "other") ops.set(step.op, (ops.get(step.op) ?? 0) + cost);
  }
  if (process.env.GAS_OPCODES) process.stderr.write(JSON.stringify([...ops].sort((a, b) => b[1] - a[1]).slice(0, 25)) + "\n");
  return sums;
}

function categoryOf(op: string): Category {
  if (op.startsWith("LOG")) return "log";
  if (op === "SSTORE") return "sstore";
  if (op === "SLOAD") return "sload";
  if (op === "KECCAK256" || op === "SHA3") return "keccak";
  // The registry makes no other call in the common case: ECDSA succeeds, so the EIP-1271
  // path (author.code.length, staticcall to the author) is never taken for EOA authors.
  if (op === "STATICCALL") return "ecrecover";
  return "other";
}

/**
 * Breaks down one postBatch transaction of `messages` messages from `authors` authors
 * (each sending messages/authors), all in one channel.
 */
export async function breakdownOf(args: {
  receipt: TransactionReceipt;
  calldata: string;
  messages: number;
  authors: number;
  bodyBytes: number;
  state: "warm" | "cold";
  send: (method: string, params: unknown[]) => Promise<unknown>;
}): Promise<Breakdown> {
  const { receipt, calldata, messages: n, authors: a, bodyBytes, state } = args;
  const cd = calldataStats(calldata);
  const lg = messagePostedLogStats(receipt);
  const gasUsed = Number(receipt.gasUsed);

  // Storage model of postBatch (one channel): once per tx, cold SLOADs of the pause flag,
  // the limits, the content types and the channel's two slots, then writing the channel's
  // head and seq back (non-zero -> non-zero). Per author, the first message reads its
  // membership slot and nonce word cold and writes the word (zero -> non-zero when
  // "cold"); the author's other messages find both slots warm.
  const fixedSloads = 5 * COLD_SLOAD + WARM_ACCESS; // + the warm re-read of the packed seq slot
  const sloads = fixedSloads + a * 2 * COLD_SLOAD + (n - a) * 2 * WARM_ACCESS + n * WARM_ACCESS; // + _seal's read of the word
  const sstores = 2 * SSTORE_RESET + a * (state === "cold" ? SSTORE_SET : SSTORE_RESET) + (n - a) * WARM_ACCESS;
  // keccak per message: body, struct hash (8 words), EIP-712 digest (66 bytes), head
  // (3 words), membership slot (2 x 64 bytes), nonce word slot (2 x 64 bytes, computed in
  // both the check and the seal). Per tx: member role id (4 words), channel slot (x2).
  const keccakPerMessage = keccakCost(bodyBytes) + keccakCost(256) + keccakCost(66) + keccakCost(96) + 2 * keccakCost(64) + 4 * keccakCost(64);
  const keccak = n * keccakPerMessage + keccakCost(128) + 2 * keccakCost(64);

  const estimated: Record<Category, number | null> = {
    intrinsic: TX_BASE / n,
    calldata: cd.gas / n,
    log: lg.gas / n,
    ecrecover: ECRECOVER + WARM_ACCESS,
    keccak: keccak / n,
    sload: sloads / n,
    sstore: sstores / n,
    other: null,
  };
  const traced = await traceCategories(args.send, receipt.hash);
  let traceResidual: number | null = null;
  let tracedPer: Record<Category, number | null> | null = null;
  if (traced) {
    const execution = Object.values(traced).reduce((s, v) => s + v, 0);
    traceResidual = gasUsed - (TX_BASE + cd.gas + execution);
    tracedPer = {
      intrinsic: TX_BASE / n,
      calldata: cd.gas / n,
      log: traced.log / n,
      ecrecover: traced.ecrecover / n,
      keccak: traced.keccak / n,
      sload: traced.sload / n,
      sstore: traced.sstore / n,
      other: traced.other / n,
    };
  }
  const notes: Record<Category, string> = {
    intrinsic: `21,000 / ${n}`,
    calldata: `${fmt(cd.bytes / n)} B/msg: ${fmt(cd.zeroBytes / n)} zero, ${fmt(cd.nonZeroBytes / n)} non-zero`,
    log: `${lg.topics / lg.logs} topics, ${fmt(lg.dataBytes / lg.logs)} data bytes per log`,
    ecrecover: "precompile 0x01, warm",
    keccak: `${fmt(keccak / n)} by price list`,
    sload: `${a} author(s): cold 2,100 first, warm 100 after`,
    sstore: `nonce word ${state === "cold" ? "0 -> non-zero (20,000)" : "non-zero (2,900)"} per author, 100 after`,
    other: "not estimated: traced remainder",
  };
  const rows: BreakdownRow[] = (Object.keys(CATEGORY_LABELS) as Category[]).map((c) => ({
    component: c,
    label: CATEGORY_LABELS[c],
    estimated: estimated[c],
    traced: tracedPer ? tracedPer[c] : null,
    note: notes[c],
  }));
  const estimatedTotal = rows.reduce((s, r) => s + (r.estimated ?? 0), 0);
  const tracedTotal = tracedPer ? rows.reduce((s, r) => s + (r.traced ?? 0), 0) : null;
  return {
    bodyBytes,
    messages: n,
    authors: a,
    state,
    measuredGasUsed: gasUsed,
    measuredGasPerMessage: gasUsed / n,
    calldata: {
      ...cd,
      bytesPerMessage: cd.bytes / n,
      zeroPerMessage: cd.zeroBytes / n,
      nonZeroPerMessage: cd.nonZeroBytes / n,
    },
    log: { ...lg, dataBytesPerMessage: lg.dataBytes / lg.logs, topicsPerLog: lg.topics / lg.logs },
    calldataFloorApplies: gasUsed === TX_BASE + cd.floorGas,
    rows,
    estimatedTotalPerMessage: estimatedTotal,
    tracedTotalPerMessage: tracedTotal,
    traceResidual,
  };
}

function fmt(x: number): string {
  return Number.isInteger(x) ? String(x) : x.toFixed(1);
}
