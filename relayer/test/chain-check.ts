/** Reads a channel's whole record from MessagePosted logs and checks it with the protocol's verifier: the evidence of "exactly once". */
import { expect } from "chai";
import type { JsonRpcProvider } from "ethers";
import { ChannelRun, decodeMessagePosted, MESSAGE_POSTED_TOPIC, recoverAuthor, type PostedMessage, type RegistryLocation } from "@chainmail/protocol";

export async function postedLogs(provider: JsonRpcProvider, location: RegistryLocation, channel: string): Promise<PostedMessage[]> {
  const logs = await provider.getLogs({ address: location.address.toString(), topics: [MESSAGE_POSTED_TOPIC, channel], fromBlock: 0, toBlock: "latest" });
  return logs.map((l) => decodeMessagePosted(location, l)).sort((a, b) => (a.seq < b.seq ? -1 : 1));
}

/**
 * seq 1..n without gaps, every head linked from the genesis head and every signature
 * the author's (the protocol's ChannelRun), the last head the stored one, and each digest once.
 */
export function expectContiguousChain(location: RegistryLocation, posted: PostedMessage[], storedHead: string, digests: string[]): void {
  expect(posted.map((p) => Number(p.seq))).to.deep.equal(posted.map((_, i) => i + 1), "seq has no gaps");
  const run = new ChannelRun();
  for (const p of posted) {
    const signed = recoverAuthor(location, p, p.digest) === p.author;
    expect(run.step({ seq: p.seq, digest: p.digest, head: p.head, signed }).findings, `seq ${p.seq}`).to.deep.equal([]);
  }
  expect(run.head).to.equal(storedHead.toLowerCase(), "the logs reproduce the stored head");
  const onChain = posted.map((p) => p.digest.toLowerCase());
  for (const d of digests) expect(onChain.filter((x) => x === d.toLowerCase()), `digest ${d} appears exactly once`).to.have.length(1);
  expect(new Set(onChain).size).to.equal(onChain.length, "no digest twice");
}
