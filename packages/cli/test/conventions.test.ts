/**
 * The conventions every `chainmail` command keeps: --help/-h and --version answer with
 * exit 0 on stdout; wrong input is refused on stderr, every problem in one sentence of
 * its own line, exit 2, before anything is started.
 */
import { expect } from "chai";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { CHAINMAIL_CLI, REPO_ROOT } from "@chainmail/testkit";

const COMMANDS = ["relayer", "mirror", "post", "messages", "tail", "audit", "prove"];
const VERSION = JSON.parse(readFileSync(path.join(REPO_ROOT, "packages/cli/package.json"), "utf8")).version as string;

/** Per command: a flag, a wrong value for it, and the sentence that refuses it. */
const BAD_VALUE: Record<string, [string, string, string]> = {
  relayer: ["--port", "x", '--port is "x"; it must be a whole number from 0 to 65535.'],
  mirror: ["--finality", "soon", '--finality is "soon"; it must be one of auto, finalized, safe, latest.'],
  post: ["--timeout", "long", '--timeout is "long"; it must be a whole number of at least 0.'],
  messages: ["--limit", "500", '--limit is "500"; it must be a whole number from 1 to 200.'],
  tail: ["--max-messages", "0", '--max-messages is "0"; it must be a whole number of at least 1.'],
  audit: ["--block-range", "0", '--block-range is "0"; it must be a whole number of at least 1.'],
  prove: ["--block-range", "0", '--block-range is "0"; it must be a whole number of at least 1.'],
};

/** The compiled CLI with none of the settings' environment variables, so that only the flags count. */
function chainmail(args: string[], env: Record<string, string> = {}) {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([name]) => !/^(CHAINMAIL_|KAFKA_BROKERS$)/.test(name)));
  const result = spawnSync(process.execPath, [CHAINMAIL_CLI, ...args], { encoding: "utf8", timeout: 30_000, env: { ...clean, ...env } });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** The problem sentences of a refusal, without the "chainmail <command>: " prefix. */
function problems(stderr: string, command: string): string[] {
  const lines = stderr.trim().split("\n");
  for (const line of lines) expect(line.startsWith(`chainmail ${command}: `), line).to.equal(true);
  return lines.map((line) => line.slice(`chainmail ${command}: `.length));
}

describe("chainmail command-line conventions", function () {
  it("answers --help, -h and --version at the top level", function () {
    for (const flag of ["--help", "-h"]) {
      const help = chainmail([flag]);
      expect(help.code, help.stderr).to.equal(0);
      expect(help.stdout).to.match(/^Usage: chainmail <command>/);
      for (const command of COMMANDS) expect(help.stdout).to.include(`  ${command} `);
      expect(help.stderr).to.equal("");
    }
    const version = chainmail(["--version"]);
    expect(version.code).to.equal(0);
    expect(version.stdout.trim()).to.equal(VERSION);
  });

  it("refuses no command and an unknown command on stderr with exit 2", function () {
    const none = chainmail([]);
    expect(none.code).to.equal(2);
    expect(none.stdout).to.equal("");
    expect(none.stderr).to.match(/^Usage: chainmail <command>/);
    const unknown = chainmail(["frobnicate"]);
    expect(unknown.code).to.equal(2);
    expect(unknown.stderr).to.match(/^chainmail: unknown command "frobnicate"\./);
  });

  for (const command of COMMANDS) {
    it(`chainmail ${command} answers --help, -h and --version with exit 0`, function () {
      for (const flag of ["--help", "-h"]) {
        const help = chainmail([command, flag]);
        expect(help.code, help.stderr).to.equal(0);
        expect(help.stdout).to.match(new RegExp(`^Usage: chainmail ${command}`));
        expect(help.stdout).to.include("-h, --help").and.include("--version");
        expect(help.stderr).to.equal("");
      }
      const version = chainmail([command, "--version"]);
      expect(version.code, version.stderr).to.equal(0);
      expect(version.stdout.trim()).to.equal(VERSION);
    });

    it(`chainmail ${command} lists an unknown flag and a bad value together, one sentence each, exit 2`, function () {
      const [flag, value, sentence] = BAD_VALUE[command];
      const result = chainmail([command, "--no-such-flag", flag, value]);
      expect(result.code).to.equal(2);
      expect(result.stdout).to.equal("");
      const said = problems(result.stderr, command);
      expect(said).to.include("Unknown option '--no-such-flag'.");
      expect(said).to.include(sentence);
      for (const sentence of said) expect(sentence, sentence).to.match(/^[^\n]+\.$/);
      expect(result.stderr).not.to.match(/\n\s+at /); // no stack trace
    });
  }

  it("uses one flag name per setting: --rpc-url, --registry, --brokers, --log-level", function () {
    const shared: Record<string, string[]> = {
      "--rpc-url": ["relayer", "mirror", "audit", "tail", "prove"],
      "--registry": ["relayer", "mirror", "tail", "audit", "prove"],
      "--brokers": ["mirror", "tail", "audit"],
      "--log-level": ["relayer", "mirror"],
    };
    for (const [flag, commands] of Object.entries(shared)) {
      for (const command of commands) expect(chainmail([command, "--help"]).stdout, `${command} ${flag}`).to.include(`${flag} `);
    }
    const old = chainmail(["audit", "--rpc", "http://127.0.0.1:8545"]);
    expect(old.code).to.equal(2);
    expect(problems(old.stderr, "audit")).to.include("Unknown option '--rpc'.");
  });

  it("lists every problem of the audit's input, not only the first", function () {
    const result = chainmail(["audit", "--rpc-url", "ftp://node", "--registry", "0x12", "--export", "xml", "--workers", "many", "--bogus"]);
    expect(result.code).to.equal(2);
    expect(problems(result.stderr, "audit")).to.deep.equal([
      "Unknown option '--bogus'.",
      '--rpc-url is "ftp://node"; it must be a URL starting with http:// or https:// or ws:// or wss://.',
      '--registry is "0x12"; it must be an Ethereum address (0x followed by 40 hex digits).',
      '--export is "xml"; it must be one of jsonl, csv.',
      "--export and --out go together.",
      '--workers is "many"; it must be a whole number of at least 0.',
    ]);
  });

  it("reads flags and environment variables alike, the flag winning, and names the source of a bad value", function () {
    const fromEnv = chainmail(["mirror"], { CHAINMAIL_REGISTRY: "0x12", CHAINMAIL_MIRROR_FINALITY: "soon", KAFKA_BROKERS: "nohost" });
    expect(fromEnv.code).to.equal(2);
    expect(problems(fromEnv.stderr, "mirror")).to.deep.equal([
      'CHAINMAIL_REGISTRY is "0x12"; it must be an Ethereum address (0x followed by 40 hex digits).',
      'CHAINMAIL_MIRROR_FINALITY is "soon"; it must be one of auto, finalized, safe, latest.',
      'KAFKA_BROKERS is "nohost"; it must be a comma-separated list of host:port.',
    ]);
    const flagWins = chainmail(["mirror", "--finality", "later"], { CHAINMAIL_MIRROR_FINALITY: "safe" });
    expect(problems(flagWins.stderr, "mirror")).to.deep.equal([
      "--registry (or CHAINMAIL_REGISTRY) is not set; it must be an Ethereum address (0x followed by 40 hex digits).",
      '--finality is "later"; it must be one of auto, finalized, safe, latest.',
    ]);
  });

  it("lists every problem of the relayer's settings, flags and environment together", function () {
    const result = chainmail(["relayer", "--port", "99999", "--gas-mode", "cheap"], { CHAINMAIL_BATCH_MAX: "0" });
    expect(result.code).to.equal(2);
    expect(problems(result.stderr, "relayer")).to.deep.equal([
      "--rpc-url (or CHAINMAIL_RPC_URL) is not set; it must be the chain's JSON-RPC URL, such as http://127.0.0.1:8545.",
      "--registry (or CHAINMAIL_REGISTRY) is not set; it must be the MessageRegistry contract address (0x followed by 40 hex digits).",
      "CHAINMAIL_SIGNER_KEYS is not set; it must be a comma-separated list of 0x-prefixed 32-byte private keys (or set CHAINMAIL_SIGNER_KEYS_FILE).",
      '--gas-mode is "cheap"; it must be one of auto, eip1559, legacy, zero.',
      '--port is "99999"; it must be a whole number from 0 to 65535.',
      'CHAINMAIL_BATCH_MAX is "0"; it must be a whole number from 1 to 1000.',
    ]);
    // Keys never come from a flag: anyone who lists processes would read them.
    expect(problems(chainmail(["relayer", "--signer-keys=0x01"]).stderr, "relayer")).to.include("Unknown option '--signer-keys'.");
  });
});
