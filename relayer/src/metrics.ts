/**
 * Prometheus metrics. Each app gets its own registry so that two apps in one process
 * (tests, the benchmark's baseline run) never share or clash over counters.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";
import type { TeamsHandle } from "./teams.js";
import { stageHistogram } from "./stage-timings.js";

export class RelayerMetrics {
  readonly registry = new Registry();
  readonly queueDepth = new Gauge({ name: "chainmail_relayer_queue_depth", help: "Messages accepted and waiting for a batch", registers: [this.registry] });
  readonly inFlightTransactions = new Gauge({ name: "chainmail_relayer_inflight_transactions", help: "postBatch transactions sent and not yet confirmed", registers: [this.registry] });
  readonly batchSize = new Histogram({
    name: "chainmail_relayer_batch_size",
    help: "Messages per postBatch transaction",
    buckets: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000],
    registers: [this.registry],
  });
  readonly accepted = new Counter({ name: "chainmail_relayer_messages_accepted_total", help: "Messages that passed the pre-checks and were queued", registers: [this.registry] });
  readonly confirmations = new Counter({ name: "chainmail_relayer_messages_confirmed_total", help: "Messages posted on-chain (MessagePosted)", registers: [this.registry] });
  readonly rejections = new Counter({
    name: "chainmail_relayer_messages_rejected_total",
    help: "Messages rejected on-chain (MessageRejected), by reason",
    labelNames: ["reason"],
    registers: [this.registry],
  });
  readonly precheckRejections = new Counter({
    name: "chainmail_relayer_precheck_rejections_total",
    help: "Requests refused before any gas was spent, by error code",
    labelNames: ["code"],
    registers: [this.registry],
  });
  readonly submitLatency = new Histogram({
    name: "chainmail_relayer_submit_latency_seconds",
    help: "From acceptance to a definitive on-chain outcome",
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60],
    registers: [this.registry],
  });
  /** Per-stage timings of the submit path (stage-timings.ts). */
  readonly stages = stageHistogram(this.registry);
  readonly gasUsed = new Counter({ name: "chainmail_relayer_gas_used_total", help: "Gas used by postBatch transactions", registers: [this.registry] });
  readonly gasPerMessage = new Histogram({
    name: "chainmail_relayer_gas_per_message",
    help: "Gas used per message in a batch",
    buckets: [10_000, 15_000, 20_000, 25_000, 30_000, 40_000, 60_000, 100_000, 200_000],
    registers: [this.registry],
  });
  readonly transactions = new Counter({
    name: "chainmail_relayer_transactions_total",
    help: "postBatch transactions by result",
    labelNames: ["result"],
    registers: [this.registry],
  });
  readonly replacements = new Counter({ name: "chainmail_relayer_transaction_replacements_total", help: "Stuck transactions re-sent with a bumped fee", registers: [this.registry] });
  readonly rebroadcasts = new Counter({ name: "chainmail_relayer_transaction_rebroadcasts_total", help: "Dropped transactions sent again", registers: [this.registry] });
  readonly membershipPollFailures = new Counter({
    name: "chainmail_relayer_membership_poll_failures_total",
    help: "Polls of RoleGranted/RoleRevoked that failed (revocations then wait for the cache TTL)",
    registers: [this.registry],
  });
  readonly nonceResyncs = new Counter({
    name: "chainmail_relayer_nonce_resyncs_total",
    help: "Times a signer's nonce was re-read from the chain, by cause",
    labelNames: ["cause"],
    registers: [this.registry],
  });

  readonly grpcRequests = new Counter({
    name: "chainmail_relayer_grpc_requests_total",
    help: "gRPC calls by method (package.Service/Method) and status code",
    labelNames: ["method", "code"],
    registers: [this.registry],
  });
  readonly grpcDuration = new Histogram({
    name: "chainmail_relayer_grpc_request_duration_seconds",
    help: "gRPC calls by method, from the call to its status (whole streams for streaming methods)",
    labelNames: ["method"],
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30, 300],
    registers: [this.registry],
  });
  readonly grpcOpenStreams = new Gauge({
    name: "chainmail_relayer_grpc_open_streams",
    help: "gRPC streaming calls open now, by method (Subscribe's are bounded: CHAINMAIL_MAX_SUBSCRIBE_STREAMS and _PER_CLIENT)",
    labelNames: ["method"],
    registers: [this.registry],
  });
  readonly grpcStreamMessages = new Counter({
    name: "chainmail_relayer_grpc_stream_messages_sent_total",
    help: "Messages sent on gRPC response streams (PostMessages outcomes, Subscribe messages)",
    labelNames: ["method"],
    registers: [this.registry],
  });

  private deliveries: TeamsHandle | undefined;
  /** Read from the broker at each scrape (refreshDeliveries): the teams' committed offsets against the mirror's records. */
  readonly deliveryLag = new Gauge({
    name: "chainmail_relayer_delivery_lag_messages",
    help: "Messages of a channel in Kafka that a subscribed team's consumer group has not committed past",
    labelNames: ["team", "channel"],
    registers: [this.registry],
  });
  readonly deliveredSeq = new Gauge({
    name: "chainmail_relayer_delivered_seq",
    help: "Last seq of a channel a subscribed team's consumer group has committed past",
    labelNames: ["team", "channel"],
    registers: [this.registry],
  });

  watchDeliveries(teams: TeamsHandle) {
    this.deliveries = teams;
  }

  /** Before each scrape: a team removed disappears, and Kafka being unreachable leaves the gauges empty rather than stale. */
  async refreshDeliveries() {
    const core = this.deliveries?.peek();
    this.deliveryLag.reset();
    this.deliveredSeq.reset();
    if (!core) return;
    for (const lag of await core.lags().catch(() => [])) {
      this.deliveryLag.set({ team: lag.team, channel: lag.channelName }, lag.lag);
      this.deliveredSeq.set({ team: lag.team, channel: lag.channelName }, Number(lag.deliveredSeq));
    }
  }

  constructor(defaultMetrics = true) {
    if (defaultMetrics) collectDefaultMetrics({ register: this.registry, prefix: "chainmail_relayer_" });
  }
}
