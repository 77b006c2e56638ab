/**
 * The relayer's handle on the teams core (@chainmail/teams). Kafka is not needed to
 * post messages, so the relayer starts without it: the core connects in the background,
 * retrying, and until then the subscription and delivery routes answer 503.
 */
import { timingSafeEqual } from "node:crypto";
import { TeamDeliveries } from "@chainmail/teams";
import type { ChannelDeliveries, MessageDeliveries, Subscription } from "@chainmail/protocol";
import type { Logger } from "@chainmail/runtime";
import type { RelayerConfig } from "./config.js";
import { ApiError, ErrorCodes } from "./errors.js";
import type { Services } from "./services.js";

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

// What every door (HTTP routes, gRPC methods) does with subscriptions and deliveries:
// the doors only parse their requests and shape their answers.

const LOOPBACK = new Set(["127.0.0.1", "::1", "::ffff:127.0.0.1"]);

/** Who is asking to change subscriptions: the peer's address and its Authorization value (HTTP header or gRPC metadata). */
export interface SubscriptionCaller {
  ip: string;
  authorization: string | undefined;
}

/** Changing who receives what is an operator's act: a bearer token, or (without one configured) this machine only. */
export function authorizeSubscriptionChange(config: RelayerConfig, caller: SubscriptionCaller): void {
  const token = config.subscriptionsToken;
  if (token === undefined) {
    if (!LOOPBACK.has(caller.ip)) throw new ApiError(403, ErrorCodes.Forbidden, "Subscriptions can be changed only from this machine unless the relayer has CHAINMAIL_SUBSCRIPTIONS_TOKEN set.");
    return;
  }
  const given = Buffer.from(/^Bearer (.+)$/.exec(caller.authorization ?? "")?.[1] ?? "");
  const wanted = Buffer.from(token);
  if (given.length !== wanted.length || !timingSafeEqual(given, wanted)) {
    throw new ApiError(401, ErrorCodes.Unauthorized, "Changing subscriptions needs the header Authorization: Bearer <CHAINMAIL_SUBSCRIPTIONS_TOKEN>.", { "www-authenticate": "Bearer" });
  }
}

const chainUnavailable = () => new ApiError(503, ErrorCodes.ChainUnavailable, "The relayer cannot read the chain right now; ask again shortly.", { "retry-after": "2" });

/** Refuses a channel id the registry does not have (404 UnknownChannel). */
async function existingChannel(services: Services, id: string): Promise<void> {
  let state;
  try {
    state = await services.chain.channel(id, true);
  } catch {
    throw chainUnavailable();
  }
  if (!state.exists) throw new ApiError(404, "UnknownChannel", `No channel ${id}.`);
}

/** Subscribes a (valid) team to an existing channel id; `created` is false when it already was. */
export async function subscribeTeam(services: Services, caller: SubscriptionCaller, team: string, channel: string): Promise<{ subscription: Subscription; created: boolean }> {
  authorizeSubscriptionChange(services.config, caller);
  const core = services.teams.get();
  const id = channel.toLowerCase();
  await existingChannel(services, id);
  return core.subscribe(team, id);
}

/** Removes a team's subscription and returns it; 404 NotSubscribed when there was none. */
export async function unsubscribeTeam(services: Services, caller: SubscriptionCaller, team: string, channel: string): Promise<Subscription> {
  authorizeSubscriptionChange(services.config, caller);
  const core = services.teams.get();
  const id = channel.toLowerCase();
  const [subscription] = core.subscriptions({ team, channel: id });
  if (!subscription || !(await core.unsubscribe(team, id))) {
    throw new ApiError(404, ErrorCodes.NotSubscribed, `Team ${team} is not subscribed to ${id}.`);
  }
  return subscription;
}

/** Who has the on-chain message with this digest; 404 UnknownMessage when it is not on-chain. */
export async function messageDeliveries(services: Services, digest: string): Promise<MessageDeliveries> {
  const core = services.teams.get();
  const wanted = digest.toLowerCase();
  let outcome;
  try {
    outcome = await services.index.find(wanted);
  } catch {
    throw chainUnavailable();
  }
  if (!outcome || outcome.status !== "confirmed") {
    const why = outcome ? "it was rejected on-chain" : services.submitter.get(wanted) ? "it is still pending" : "the relayer knows no such message";
    throw new ApiError(404, ErrorCodes.UnknownMessage, `No message with this digest is on-chain (${why}), so nobody can have received it.`);
  }
  return core.deliveriesOf(outcome.channel, outcome.seq, wanted);
}

/** Each subscribed team's delivery lag in an existing channel. */
export async function channelDeliveries(services: Services, channel: string): Promise<ChannelDeliveries> {
  const core = services.teams.get();
  const id = channel.toLowerCase();
  await existingChannel(services, id);
  return core.channelDeliveries(id);
}
