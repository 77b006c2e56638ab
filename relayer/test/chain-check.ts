/** Reads a channel's whole record from MessagePosted logs and checks it: the evidence of "exactly once". */
import { expect } from "chai";
import type { JsonRpcProvider } from "ethers";
import { decodeMessagePosted, GENESIS_HEAD, MESSAGE_POSTED_TOPIC, nextHead, type PostedMessage, type RegistryLocation } from "@chainmail/protocol";

export async function postedLogs(provider: JsonRpcProvider, location: RegistryLocation, channel: string): Promise<PostedMessage[]> {
  const logs = await provider.getLogs({ address: location.address.toString(), topics: [MESSAGE_POSTED_TOPIC, channel], fromBlock: 0, toBlock: "latest" });
  return logs.map((l) => decodeMessagePosted(location, l)).sort((a, b) => (a.seq < b.seq ? -1 : 1));
}

/** seq 1..n without gaps, heads chain from the logs to the stored head, and each digest once. */
export function expectContiguousChain(posted: PostedMessage[], storedHead: string, digests: string[]): void {
  expect(posted.map((p) => Number(p.seq))).to.deep.equal(posted.map((_, i) => i + 1), "seq has no gaps");
  let head = GENESIS_HEAD;
  for (const p of posted) head = nextHead(head, p.digest, p.seq);
  expect(head).to.equal(storedHead, "the logs reproduce the stored head");
  const onChain = posted.map((p) => p.digest.toLowerCase());
  for (const d of digests) expect(onChain.filter((x) => x === d.toLowerCase()), `digest ${d} appears exactly once`).to.have.length(1);
  expect(new Set(onChain).size).to.equal(onChain.length, "no digest twice");
}
