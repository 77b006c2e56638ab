/**
 * The relayer's handle on the teams core (@chainmail/teams). Kafka is not needed to
 * post messages, so the relayer starts without it: the core connects in the background,
 * retrying, and until then the subscription and delivery routes answer 503.
 */
import { TeamDeliveries } from "@chainmail/teams";
import type { Logger } from "@chainmail/runtime";
import type { RelayerConfig } from "./config.js";
import { ApiError, ErrorCodes } from "./errors.js";

export class TeamsHandle {
  private current: TeamDeliveries | undefined;
  private closed = false;
  private readonly started: Promise<void>;
  private observer: ReturnType<typeof setInterval> | undefined;

  constructor(
    private readonly config: RelayerConfig,
    private readonly logger: Logger,
    /** How often the teams' committed offsets are read, so "seen delivered at" stays close to the commit. */
    observeEveryMs = 1_000,
  ) {
    this.started = config.kafkaBrokers.length > 0 ? this.connect(observeEveryMs) : Promise.resolve();
  }

  get enabled(): boolean {
    return this.config.kafkaBrokers.length > 0;
  }

  private async connect(observeEveryMs: number): Promise<void> {
    for (let attempt = 1; !this.closed; attempt++) {
      try {
        const teams = await TeamDeliveries.start({
          brokers: this.config.kafkaBrokers,
          messagesTopic: this.config.messagesTopic,
          subscriptionsTopic: this.config.subscriptionsTopic,
          registry: this.config.registryAddress,
          logger: this.logger,
          clientId: "chainmail-relayer",
        });
        if (this.closed) return void (await teams.close());
        this.current = teams;
        this.observer = setInterval(() => {
          teams.observe().catch((error) => this.logger.debug({ err: error }, "reading the teams' offsets failed; next time"));
        }, observeEveryMs);
        this.observer.unref();
        this.logger.info({ brokers: this.config.kafkaBrokers, subscriptions: teams.subscriptions().length }, "team subscriptions and deliveries ready");
        return;
      } catch (error) {
        this.logger.warn({ err: error, attempt }, "cannot reach Kafka for team subscriptions; retrying in 2 s (posting is not affected)");
        await new Promise((resolve) => setTimeout(resolve, 2_000));
      }
    }
  }

  /** Resolves once the core is connected (or at once when Kafka is not configured). */
  ready(): Promise<void> {
    return this.started;
  }

  /** The core, or the 503 a route answers without it. */
  get(): TeamDeliveries {
    if (!this.enabled) {
      throw new ApiError(503, ErrorCodes.DeliveriesDisabled, "This relayer has no Kafka brokers configured (KAFKA_BROKERS), so it knows no subscriptions or deliveries.");
    }
    if (!this.current) throw new ApiError(503, ErrorCodes.KafkaUnavailable, "This relayer has not reached Kafka yet; ask again shortly.", { "retry-after": "2" });
    return this.current;
  }

  /** The core when connected, else undefined (metrics skip it). */
  peek(): TeamDeliveries | undefined {
    return this.current;
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.observer);
    await this.current?.close();
  }
}
