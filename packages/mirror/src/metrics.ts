/**
 * The mirror's Prometheus metrics, on their own registry so several mirrors (tests)
 * can live in one process, and an optional tiny `/metrics` HTTP endpoint.
 */
import { createServer, type Server } from "node:http";
import { Counter, Gauge, Registry } from "prom-client";

export class MirrorMetrics {
  readonly registry = new Registry();
  readonly lagBlocks = new Gauge({ name: "chainmail_mirror_lag_blocks", help: "Chain head minus the last mirrored block.", registers: [this.registry] });
  readonly lagSeconds = new Gauge({ name: "chainmail_mirror_lag_seconds", help: "Timestamp of the chain head minus that of the last mirrored block.", registers: [this.registry] });
  readonly nextBlock = new Gauge({ name: "chainmail_mirror_next_block", help: "First block not yet mirrored (the committed cursor).", registers: [this.registry] });
  readonly events = new Counter({ name: "chainmail_mirror_events_published_total", help: "Events committed to Kafka.", labelNames: ["topic"] as const, registers: [this.registry] });
  readonly transactions = new Counter({ name: "chainmail_mirror_transactions_total", help: "Kafka transactions committed (each holds a block range and the cursor).", registers: [this.registry] });
  readonly retries = new Counter({ name: "chainmail_mirror_retries_total", help: "Retries after a failure, by what failed.", labelNames: ["stage"] as const, registers: [this.registry] });
  readonly reorgs = new Counter({ name: "chainmail_mirror_reorgs_total", help: "Reorganisations noticed below the finality setting after publishing from the replaced blocks.", registers: [this.registry] });
  readonly retractions = new Counter({ name: "chainmail_mirror_retractions_total", help: "Retraction records published (one per channel and topic per reorganisation).", registers: [this.registry] });
  readonly fenced = new Gauge({ name: "chainmail_mirror_fenced", help: "1 once another instance with the same transactional id took over.", registers: [this.registry] });

  published(topic: string, count: number): void {
    if (count > 0) this.events.inc({ topic }, count);
  }
}

/** Serves `metrics` on http://host:port/metrics; port 0 picks a free port. */
export async function serveMetrics(metrics: MirrorMetrics, port: number, host = "127.0.0.1"): Promise<Server> {
  const server = createServer(async (req, res) => {
    if (req.url === "/metrics") {
      res.writeHead(200, { "content-type": metrics.registry.contentType });
      res.end(await metrics.registry.metrics());
    } else {
      res.writeHead(404, { "content-type": "text/plain" });
      res.end("Not found: the mirror serves only /metrics.\n");
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve());
  });
  return server;
}
