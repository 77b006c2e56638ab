/**
 * What the mirror has published from blocks that could still be replaced, so that a
 * reorganisation noticed while it runs can be answered with retractions: which blocks
 * (number and hash) it published from, and which channels had events in each.
 *
 * Kept in memory for the last `maxBlocks` blocks below the cursor; a reorganisation
 * deeper than that, or one noticed at start (the cursor's lastBlockHash no longer on the
 * chain), is a loud failure instead, because what was published from the replaced blocks
 * is no longer known.
 */
import { GENESIS_HEAD, MessageRegistry__factory, RETRACTION_SCHEMA, channelName, type RetractionEvent } from "@chainmail/protocol";
import { getAddress, type JsonRpcProvider } from "ethers";
import type { MirroredEvent } from "./chain-source.js";

interface PublishedBlock {
  hash: string;
  /** channel -> first seq published from this block. */
  messages: Map<string, bigint>;
  membership: Set<string>;
}

export class PublishedWindow {
  private readonly blocks = new Map<number, PublishedBlock>();

  constructor(private readonly maxBlocks: number) {}

  private entry(number: number, hash: string): PublishedBlock {
    let block = this.blocks.get(number);
    if (!block || block.hash !== hash) this.blocks.set(number, (block = { hash, messages: new Map(), membership: new Set() }));
    return block;
  }

  /** A block the mirror published up to (a range end), even if it held no events. */
  record(number: number, hash: string): void {
    this.entry(number, hash.toLowerCase());
  }

  recordEvents(events: readonly MirroredEvent[]): void {
    for (const event of events) {
      const block = this.entry(event.blockNumber, event.value.blockHash);
      if (event.topic === "messages") {
        const seq = BigInt(event.value.seq);
        const first = block.messages.get(event.key);
        if (first === undefined || seq < first) block.messages.set(event.key, seq);
      } else {
        block.membership.add(event.key);
      }
    }
  }

  /** Forgets blocks more than maxBlocks below `nextBlock`. */
  prune(nextBlock: number): void {
    const floor = nextBlock - this.maxBlocks;
    for (const number of this.blocks.keys()) if (number < floor) this.blocks.delete(number);
  }

  /** Remembered block numbers, newest first: where to look for the common ancestor. */
  numbersDescending(): number[] {
    return [...this.blocks.keys()].sort((a, b) => b - a);
  }

  hashOf(number: number): string | undefined {
    return this.blocks.get(number)?.hash;
  }

  /** Forgets every block above `ancestor` (they were retracted). */
  dropAbove(ancestor: number): void {
    for (const number of this.blocks.keys()) if (number > ancestor) this.blocks.delete(number);
  }

  /** Per channel, what was published from blocks above `ancestor`, for each topic. */
  publishedAbove(ancestor: number): {
    messages: Map<string, { firstSeq: bigint; blocks: Array<{ number: number; hash: string }> }>;
    membership: Map<string, Array<{ number: number; hash: string }>>;
  } {
    const messages = new Map<string, { firstSeq: bigint; blocks: Array<{ number: number; hash: string }> }>();
    const membership = new Map<string, Array<{ number: number; hash: string }>>();
    for (const number of [...this.blocks.keys()].sort((a, b) => a - b)) {
      if (number <= ancestor) continue;
      const block = this.blocks.get(number)!;
      for (const [channel, seq] of block.messages) {
        const entry = messages.get(channel) ?? { firstSeq: seq, blocks: [] };
        if (seq < entry.firstSeq) entry.firstSeq = seq;
        entry.blocks.push({ number, hash: block.hash });
        messages.set(channel, entry);
      }
      for (const channel of block.membership) {
        const list = membership.get(channel) ?? [];
        list.push({ number, hash: block.hash });
        membership.set(channel, list);
      }
    }
    return { messages, membership };
  }
}

/**
 * The retraction records for everything published above `ancestor` (whose hash on the
 * surviving chain is `ancestorHash`). A channel's first retracted seq and the head before
 * it come from the registry's state at the ancestor (what the new chain continues from);
 * when the node cannot answer for that block, from what the mirror published.
 */
export async function retractionsAbove(
  window: PublishedWindow,
  ancestor: { number: number; hash: string },
  ctx: { chainId: bigint; registry: string; provider: JsonRpcProvider },
): Promise<{ messages: RetractionEvent[]; membership: RetractionEvent[] }> {
  const { messages, membership } = window.publishedAbove(ancestor.number);
  const registry = MessageRegistry__factory.connect(ctx.registry, ctx.provider);
  const base = (channel: string) => ({
    schema: RETRACTION_SCHEMA,
    kind: "reorg",
    chainId: ctx.chainId.toString(),
    registry: getAddress(ctx.registry),
    channel,
    channelName: channelName(channel),
    fromBlock: ancestor.number + 1,
    newBlockHash: ancestor.hash,
  }) as const;
  const messageRecords: RetractionEvent[] = [];
  for (const [channel, { firstSeq, blocks }] of messages) {
    let fromSeq = firstSeq;
    let headBefore: string | null = firstSeq === 1n ? GENESIS_HEAD : null;
    try {
      const info = await registry.channelInfo(channel, { blockTag: ancestor.number });
      fromSeq = info.seq + 1n;
      headBefore = info.head.toLowerCase();
    } catch {
      // A node without that block's state (pruned): the first seq published from the
      // replaced blocks is still right; readers without headBefore join again mid-stream.
    }
    messageRecords.push({ ...base(channel), fromSeq: fromSeq.toString(), headBefore, retractedBlocks: blocks });
  }
  const membershipRecords: RetractionEvent[] = [...membership].map(([channel, blocks]) => ({
    ...base(channel),
    fromSeq: null,
    headBefore: null,
    retractedBlocks: blocks,
  }));
  return { messages: messageRecords, membership: membershipRecords };
}
