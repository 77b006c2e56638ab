/**
 * A bound on long-lived streams, on the relayer and per client address. A Subscribe
 * stream costs the node a log query at every new final block (and its start a query
 * back to the registry's deployment): without a bound one client could open thousands
 * and multiply the node's load by as much.
 */
import { ApiError, ErrorCodes } from "../errors.js";

export class StreamSlots {
  private open = 0;
  private readonly byClient = new Map<string, number>();

  constructor(
    /** What the streams are, for the refusal's sentence ("Subscribe streams"). */
    private readonly what: string,
    /** On the relayer; 0: no bound. */
    private readonly max: number,
    /** Per client address; 0: no bound. */
    private readonly maxPerClient: number,
  ) {}

  /** Takes a slot for `client`, or throws 429 TooManyStreams; call the returned function once, when the stream ends. */
  take(client: string): () => void {
    const mine = this.byClient.get(client) ?? 0;
    if (this.maxPerClient > 0 && mine >= this.maxPerClient) throw this.refusal(`${this.what} open from ${client}: ${mine}, the most one client may have`);
    if (this.max > 0 && this.open >= this.max) throw this.refusal(`${this.what} open on this relayer: ${this.open}, the most it serves`);
    this.open++;
    this.byClient.set(client, mine + 1);
    return () => {
      this.open--;
      const left = this.byClient.get(client)! - 1;
      if (left === 0) this.byClient.delete(client);
      else this.byClient.set(client, left);
    };
  }

  private refusal(why: string): ApiError {
    return new ApiError(429, ErrorCodes.TooManyStreams, `${why}; close one, retry later, or use another relayer.`, { "retry-after": "1" });
  }
}
