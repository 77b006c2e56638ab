/**
 * `chainmail relayer`: runs the relayer HTTP service. Configuration comes only from
 * the environment (see --help); the process listens, and on SIGINT/SIGTERM drains
 * its in-flight batches before it exits.
 */
import { parseArgs } from "node:util";
import { buildApp } from "@chainmail/relayer";
import { ConfigError, ENV_VARIABLES, loadConfig } from "@chainmail/relayer";

function usage(): string {
  const width = Math.max(...ENV_VARIABLES.map(([name]) => name.length));
  const lines = ENV_VARIABLES.map(([name, def, what]) => `  ${name.padEnd(width)}  ${what} [${def}]`);
  return `Usage: chainmail relayer

Runs the ChainMail relayer (HTTP API, OpenAPI UI at /docs). Configured from the environment:
${lines.join("\n")}`;
}

export async function run(argv: string[]): Promise<number> {
  let help = false;
  try {
    help = Boolean(parseArgs({ args: argv, options: { help: { type: "boolean", short: "h" } }, strict: true }).values.help);
  } catch (error) {
    console.error(`chainmail relayer: ${(error as Error).message}`);
    return 2;
  }
  if (help) {
    console.log(usage());
    return 0;
  }
  let config;
  try {
    config = loadConfig(process.env);
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
      return 2;
    }
    throw error;
  }
  let app;
  try {
    app = await buildApp(config);
  } catch (error) {
    console.error(`chainmail relayer: ${(error as Error).message}`);
    return 1;
  }
  let closing: Promise<void> | undefined;
  const shutdown = (signal: string) => {
    if (closing) return;
    app.log.info({ signal }, "shutting down: draining in-flight batches");
    closing = app.close().then(
      () => app.log.info("stopped"),
      (error: unknown) => app.log.error({ err: error }, "error while shutting down"),
    );
  };
  const stopped = new Promise<void>((resolve) => {
    // `on`, not `once`: a second signal (a process group, an impatient operator) must
    // not fall through to the default handler and kill the drain half-way.
    for (const signal of ["SIGINT", "SIGTERM"] as const) {
      process.on(signal, () => {
        shutdown(signal);
        void closing!.then(resolve);
      });
    }
  });
  try {
    const address = await app.listen({ host: config.host, port: config.port });
    app.log.info({ address, registry: config.registryAddress, signers: app.services.submitter.lanes.map((l) => l.address) }, "relayer listening");
  } catch (error) {
    console.error(`chainmail relayer: cannot listen on ${config.host}:${config.port}: ${(error as Error).message}`);
    await app.close();
    return 1;
  }
  await stopped;
  return 0;
}
