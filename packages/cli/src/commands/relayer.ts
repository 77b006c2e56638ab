/**
 * `chainmail relayer`: runs the relayer HTTP service. Configured by flags or the
 * environment (see --help; the signer keys only from the environment); the process
 * listens, and on SIGINT/SIGTERM drains its in-flight batches before it exits.
 */
import { buildApp, ConfigError, loadConfig, RELAYER_OPTIONS } from "@chainmail/relayer";
import { readCommand, refuse, type Command } from "../options.js";

const COMMAND: Command = {
  name: "relayer",
  synopsis: `Usage: chainmail relayer [options]

Runs the ChainMail relayer: the HTTP API (OpenAPI UI at /docs) and, on its own HTTP/2
port, gRPC (chainmail.v1.RelayerService, with reflection and health). Every setting is
a flag or an environment variable; the flag wins.`,
  options: RELAYER_OPTIONS,
};

export async function run(argv: string[]): Promise<number> {
  const read = readCommand(COMMAND, argv);
  if (typeof read === "number") return read;
  // The relayer's own reader reads the same flags again and lists every problem, the
  // flags' shape and their values together.
  let config;
  try {
    config = loadConfig(process.env, argv);
  } catch (error) {
    if (error instanceof ConfigError) return refuse(COMMAND, error.problems);
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
    const grpcAddress = await app.grpc.listen({ host: config.host, port: config.grpcPort });
    app.log.info({ address, grpcAddress, registry: config.registryAddress, signers: app.services.submitter.lanes.map((l) => l.address) }, "relayer listening");
  } catch (error) {
    console.error(`chainmail relayer: cannot listen on ${config.host} (HTTP port ${config.port}, gRPC port ${config.grpcPort}): ${(error as Error).message}`);
    await app.close();
    return 1;
  }
  await stopped;
  return 0;
}
