import { readFileSync } from "node:fs";

/** The version of @chainmail/cli, read from its package.json (dist/ and src/ both sit beside it). */
export function cliVersion(): string {
  return (JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string }).version;
}
