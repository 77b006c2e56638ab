/**
 * Heap per outcome-index entry (the README's memory bound): fills an OutcomeIndex with
 * N synthetic confirmed outcomes and prints the heap growth per entry.
 * Run: cd relayer && node --expose-gc --import tsx scripts/index-memory.ts [N]
 */
import { randomBytes } from "node:crypto";
import { OutcomeIndex } from "../src/outcomes.js";

const N = Number(process.argv[2] ?? 200_000);
const hex = (bytes: number) => "0x" + randomBytes(bytes).toString("hex");
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error("run with node --expose-gc");
// record() touches no chain: a location is all the index needs to exist.
const chain = { location: { chainId: 31337n, address: "0x5FbDB2315678afecb367f032d93F642f64180aa3" } } as unknown as ConstructorParameters<typeof OutcomeIndex>[0];
const index = new OutcomeIndex(chain, N, 10_000);
gc();
const before = process.memoryUsage().heapUsed;
for (let i = 0; i < N; i++) {
  const outcome = { status: "confirmed" as const, digest: hex(32), channel: hex(32), seq: BigInt(i), head: hex(32), transactionHash: hex(32), blockNumber: i, logIndex: 0 };
  index.record(outcome, hex(20), BigInt(hex(32)));
}
gc();
const perEntry = (process.memoryUsage().heapUsed - before) / N;
console.log(JSON.stringify({ entries: index.size, nonceEntries: index.nonceEntries, heapBytesPerEntry: Math.round(perEntry), heapMbAtThisCap: Math.round((perEntry * N) / 1e6) }));
