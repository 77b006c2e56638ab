/** What the route plugins share: built once by buildApp, passed in as plugin options. */
import type { FinalityResolver } from "@chainmail/chain";
import type { Chain } from "./chain.js";
import type { FinalHead } from "./final-head.js";
import type { PreChecker } from "./checks.js";
import type { RelayerConfig } from "./config.js";
import type { RelayerMetrics } from "./metrics.js";
import type { Outcome, OutcomeIndex } from "./outcomes.js";
import type { LoadShedder } from "./load.js";
import type { RateLimiter } from "./rate-limit.js";
import type { ConfirmedOutcome, PendingOutcome, RejectedOutcome } from "@chainmail/protocol";
import type { Submitter } from "./submitter/index.js";
import type { TeamsHandle } from "./teams.js";
import type { DurableIntake } from "./durable.js";

export interface Services {
  config: RelayerConfig;
  chain: Chain;
  index: OutcomeIndex;
  /** The newest block Subscribe sends messages from (config.subscribeFinality). */
  finality: FinalityResolver;
  /** Subscribe's looks at that block, one for all streams. */
  finalHead: FinalHead;
  submitter: Submitter;
  checker: PreChecker;
  metrics: RelayerMetrics;
  authorLimiter: RateLimiter;
  clientLimiter: RateLimiter;
  /** Load shedding and the pre-check deadline (load.ts). */
  load: LoadShedder;
  /** Team subscriptions and deliveries (Kafka); 503 from its routes until connected. */
  teams: TeamsHandle;
  /** The write-ahead journal that makes a 202 durable; absent when the config has no journal directory. */
  intake?: DurableIntake;
}

export function statusUrl(digest: string): string {
  return `/v1/messages/${digest}`;
}

export const PENDING_NOTE =
  "Accepted for posting and persisted by the relayer, which finishes it after a restart. Not yet a record: only a confirmed status (or the chain itself) says the message is on-chain; keep the signed message and send it again if the status becomes unknown.";

/** An outcome as JSON (bigints as decimal strings). */
export function outcomeJson(outcome: Outcome): ConfirmedOutcome | RejectedOutcome {
  if (outcome.status === "confirmed") {
    return {
      status: "confirmed",
      digest: outcome.digest,
      channel: outcome.channel,
      seq: outcome.seq.toString(),
      head: outcome.head,
      transactionHash: outcome.transactionHash,
      blockNumber: outcome.blockNumber,
      logIndex: outcome.logIndex,
    };
  }
  return {
    status: "rejected",
    digest: outcome.digest,
    channel: outcome.channel,
    code: outcome.code,
    reasonCode: outcome.reasonCode,
    message: outcome.message,
    ...(outcome.transactionHash ? { transactionHash: outcome.transactionHash } : {}),
    ...(outcome.blockNumber !== undefined ? { blockNumber: outcome.blockNumber } : {}),
  };
}

export function pendingJson(digest: string): PendingOutcome {
  return { status: "pending", digest, statusUrl: statusUrl(digest), note: PENDING_NOTE };
}
