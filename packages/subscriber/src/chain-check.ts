/**
 * Checks a channel's message events as a subscriber receives them: each event's
 * digest is recomputed from its fields, its signature recovered, and its head
 * recomputed from the previous head (protocol.nextHead), so a consumer notices a
 * forged, altered, dropped or reordered message without trusting Kafka or the mirror.
 */
import { Value } from "@sinclair/typebox/value";
import { digestOf, GENESIS_HEAD, nextHead, recoverAuthor, type SignedMessage } from "@chainmail/protocol";
import { MessageEventSchema, type MessageEvent } from "@chainmail/protocol";

export type BreakKind = "malformed" | "digest-mismatch" | "bad-signature" | "gap" | "out-of-order" | "conflict" | "head-mismatch";

export interface ChainBreak {
  kind: BreakKind;
  channel: string;
  channelName: string;
  seq: string | null;
  /** One sentence for people. */
  message: string;
  expected?: string;
  actual?: string;
  event?: unknown;
}

export type CheckOutcome =
  | { status: "ok"; event: MessageEvent; note?: string }
  | { status: "redelivered"; event: MessageEvent; note: string }
  | { status: "broken"; event?: MessageEvent; break: ChainBreak };

interface ChannelState {
  seq: bigint;
  head: string;
  digest: string;
}

/** Events of one registry and channel are one hash chain; the key keeps registries apart. */
function streamKey(e: MessageEvent): string {
  return `${e.chainId}:${e.registry.toLowerCase()}:${e.channel}`;
}

function messageOf(e: MessageEvent): SignedMessage {
  return {
    channel: e.channel,
    author: e.author,
    body: e.body,
    contentType: e.contentType,
    timestamp: BigInt(e.timestamp),
    replyTo: BigInt(e.replyTo),
    nonce: BigInt(e.nonce),
    signature: e.signature,
  };
}

export class ChainChecker {
  private readonly state = new Map<string, ChannelState>();

  /** Checks the next event of its channel and advances that channel's state. */
  check(value: unknown): CheckOutcome {
    if (!Value.Check(MessageEventSchema, value)) {
      const first = [...Value.Errors(MessageEventSchema, value)][0];
      const v = (value ?? {}) as Record<string, unknown>;
      return {
        status: "broken",
        break: {
          kind: "malformed",
          channel: String(v.channel ?? "?"),
          channelName: String(v.channelName ?? v.channel ?? "?"),
          seq: typeof v.seq === "string" ? v.seq : null,
          message: `An event is not a valid chainmail.message-event.v1 value${first ? ` (${first.path || "/"}: ${first.message})` : ""}.`,
          event: value,
        },
      };
    }
    const e = value;
    const seq = BigInt(e.seq);
    const broken = (kind: BreakKind, message: string, expected?: string, actual?: string): CheckOutcome => ({
      status: "broken",
      event: e,
      break: { kind, channel: e.channel, channelName: e.channelName, seq: e.seq, message, expected, actual, event: e },
    });
    const registry = { chainId: BigInt(e.chainId), address: e.registry };
    const message = messageOf(e);
    const digest = digestOf(registry, message).toLowerCase();
    const key = streamKey(e);
    const previous = this.state.get(key);
    const resync = () => this.state.set(key, { seq, head: e.head, digest });

    if (digest !== e.digest) {
      resync();
      return broken("digest-mismatch", `Message ${e.seq} of ${e.channelName}: its fields hash to ${digest}, but the event claims digest ${e.digest}; the message was altered.`, digest, e.digest);
    }
    const signer = recoverAuthor(registry, message);
    if (!signer || signer.toLowerCase() !== e.author.toLowerCase()) {
      resync();
      return broken("bad-signature", `Message ${e.seq} of ${e.channelName}: the signature ${signer ? `was made by ${signer}` : "is not a valid signature"}, not by the author ${e.author}.`, e.author, signer ?? "invalid");
    }

    if (!previous) {
      if (seq === 1n) {
        const expected = nextHead(GENESIS_HEAD, digest, 1n).toLowerCase();
        if (expected !== e.head) {
          resync();
          return broken("head-mismatch", `Message 1 of ${e.channelName}: the head should be ${expected} (from the genesis head), but the event says ${e.head}.`, expected, e.head);
        }
        resync();
        return { status: "ok", event: e };
      }
      resync();
      return {
        status: "ok",
        event: e,
        note: `Joined ${e.channelName} mid-stream at seq ${e.seq}: trusting its head ${e.head} as the starting point; messages from here on are checked against it.`,
      };
    }

    if (seq <= previous.seq) {
      if (seq === previous.seq && digest === previous.digest && e.head === previous.head) {
        return { status: "redelivered", event: e, note: `Message ${e.seq} of ${e.channelName} was delivered again (same digest and head); ignored.` };
      }
      if (seq === previous.seq) {
        return broken("conflict", `Two different messages claim seq ${e.seq} in ${e.channelName} (digests ${previous.digest} and ${digest}).`, previous.digest, digest);
      }
      return broken("out-of-order", `Message ${e.seq} of ${e.channelName} arrived after message ${previous.seq}: out of order.`, `${previous.seq + 1n}`, e.seq);
    }
    if (seq !== previous.seq + 1n) {
      resync();
      const missing = seq - previous.seq - 1n;
      return broken(
        "gap",
        `${missing === 1n ? `Message ${previous.seq + 1n} is` : `Messages ${previous.seq + 1n} to ${seq - 1n} are`} missing in ${e.channelName}: after ${previous.seq} came ${e.seq}. Continuing from ${e.seq}'s head.`,
        `${previous.seq + 1n}`,
        e.seq,
      );
    }
    const expected = nextHead(previous.head, digest, seq).toLowerCase();
    resync();
    if (expected !== e.head) {
      return broken("head-mismatch", `Message ${e.seq} of ${e.channelName}: the head chain breaks; expected head ${expected} from message ${previous.seq}'s head, but the event says ${e.head}.`, expected, e.head);
    }
    return { status: "ok", event: e };
  }
}
