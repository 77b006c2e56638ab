/**
 * `chainmail sign`: sign a message as its author for a relayer's registry and print it
 * as JSON, without posting it: the body of POST /v1/messages, or with --grpc a
 * chainmail.v1.PostMessageRequest for grpcurl or any gRPC client.
 */
import { signedMessageJson, signForRelayer } from "@chainmail/client";
import { AUTHORED_MESSAGE, readAuthoredMessage, readCommand, refuse, RELAYER_URLS, type Command } from "../options.js";

const COMMAND: Command = {
  name: "sign",
  synopsis: `Usage: chainmail sign --relayer URL --channel NAME|ID (--text TEXT | --body 0xHEX) [options]

Signs a message as its author (key from --key-file or env CHAINMAIL_KEY) for the
relayer's chain and registry (from its GET /v1/info) and prints it as one line of JSON.`,
  options: {
    ...RELAYER_URLS,
    ...AUTHORED_MESSAGE,
    grpc: { type: "boolean", description: 'print a chainmail.v1.PostMessageRequest ({"message": ..., "wait": true}) instead' },
  },
  footer: "Exit status: 0 signed, 1 the relayer could not be asked, 2 wrong input.",
};

export async function run(argv: string[]): Promise<number> {
  const read = readCommand(COMMAND, argv);
  if (typeof read === "number") return read;
  const input = readAuthoredMessage(read);
  if (!input) return refuse(COMMAND, read.problems);
  try {
    const { signed } = await signForRelayer(input);
    const json = signedMessageJson(signed);
    console.log(JSON.stringify(read.boolean("grpc") ? { message: json, wait: true } : json));
    return 0;
  } catch (error) {
    console.error(`chainmail sign: ${(error as Error).message}`);
    return 1;
  }
}
