import { expect } from "chai";
import { Writable } from "node:stream";
import { ChainMailError } from "@chainmail/protocol";
import { createLogger, describeOptions, InputError, OptionReader, type OptionSpecs } from "@chainmail/runtime";

function capture() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      lines.push(...String(chunk).split("\n").filter(Boolean));
      done();
    },
  });
  return { lines, stream };
}

describe("the logger", function () {
  it("prints pino JSON lines with the level as its name, ISO time and the process name", function () {
    const { lines, stream } = capture();
    const logger = createLogger({ name: "chainmail-test", level: "debug", destination: stream });
    logger.info({ block: 12n, channel: "general" }, "committed");
    logger.debug("read block range");
    logger.warn({ err: new Error("boom") }, "retrying");
    const [info, debug, warn] = lines.map((l) => JSON.parse(l));
    expect(info).to.include({ level: "info", name: "chainmail-test", msg: "committed", channel: "general", block: 12 });
    expect(info.time).to.match(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(debug).to.include({ level: "debug", msg: "read block range" });
    expect(warn).to.include({ level: "warn", msg: "retrying" });
    expect(warn.err).to.include({ type: "Error", message: "boom" });
  });

  it("drops lines below its level", function () {
    const { lines, stream } = capture();
    const logger = createLogger({ name: "x", level: "warn", destination: stream });
    logger.info("quiet");
    logger.error("loud");
    expect(lines.map((l) => JSON.parse(l).msg)).to.deep.equal(["loud"]);
  });
});

const SPECS: OptionSpecs = {
  "rpc-url": { env: "CHAINMAIL_RPC_URL", value: "URL", description: "JSON-RPC endpoint" },
  port: { env: "CHAINMAIL_PORT", value: "N", default: "8080", description: "port" },
  mode: { env: "CHAINMAIL_MODE", value: "MODE", description: "mode" },
  secret: { env: "CHAINMAIL_SECRET", envOnly: true, description: "a secret" },
  json: { type: "boolean", description: "print JSON" },
  channel: { multiple: true, value: "NAME", description: "channels" },
};

describe("the option reader", function () {
  it("takes a flag over its environment variable", function () {
    const read = new OptionReader(SPECS, { argv: ["--port", "9000", "--json", "--channel", "a", "--channel=b"], env: { CHAINMAIL_PORT: "1", CHAINMAIL_RPC_URL: " http://x " } });
    expect(read.integer("port")).to.equal(9000);
    expect(read.string("rpc-url")).to.equal("http://x");
    expect(read.boolean("json")).to.equal(true);
    expect(read.strings("channel")).to.deep.equal(["a", "b"]);
    expect(read.flagged("port")).to.equal(true);
    expect(read.flagged("rpc-url")).to.equal(false);
    expect(read.problems).to.deep.equal([]);
  });

  it("lists every problem, one sentence each, naming where each value came from", function () {
    const read = new OptionReader(SPECS, { argv: ["--bogus", "--port", "x", "--json=yes", "stray", "--mode"], env: { CHAINMAIL_MODE: "fast" } });
    read.required("rpc-url", "the chain's URL");
    read.integer("port", { min: 1, max: 65535 });
    read.oneOf("mode", ["a", "b"]);
    expect(read.problems).to.deep.equal([
      "Unknown option '--bogus'.",
      "--json takes no value.",
      'Unexpected argument "stray".',
      "--mode needs a value (MODE).",
      "--rpc-url (or CHAINMAIL_RPC_URL) is not set; it must be the chain's URL.",
      '--port is "x"; it must be a whole number from 1 to 65535.',
      'CHAINMAIL_MODE is "fast"; it must be one of a, b.',
    ]);
    let thrown: unknown;
    try {
      read.finish();
    } catch (error) {
      thrown = error;
    }
    expect(thrown).to.be.instanceOf(InputError).and.instanceOf(ChainMailError);
    expect((thrown as InputError).code).to.equal("InvalidInput");
    expect((thrown as InputError).problems).to.have.length(7);
  });

  it("names only environment variables when flags are no source, and never takes an env-only setting as a flag", function () {
    const envOnly = new OptionReader(SPECS, { env: {} });
    envOnly.required("rpc-url", "a URL");
    expect(envOnly.problems).to.deep.equal(["CHAINMAIL_RPC_URL is not set; it must be a URL."]);
    const flagged = new OptionReader(SPECS, { argv: ["--secret", "s3cret"], env: {} });
    expect(flagged.problems[0]).to.equal("Unknown option '--secret'.");
    expect(describeOptions(SPECS)).to.include("CHAINMAIL_SECRET").and.not.include("--secret");
  });
});

describe("ChainMailError", function () {
  it("carries a code, a sentence and its cause, and walks the cause chain", function () {
    const root = new Error("socket hang up");
    const error = new ChainMailError("NodeUnreachable", "Cannot reach the node.", { cause: root });
    expect(error).to.include({ code: "NodeUnreachable", message: "Cannot reach the node.", name: "ChainMailError" });
    expect(error.cause).to.equal(root);
    expect(error.walk()).to.equal(root);
    expect(error.walk((e) => e instanceof ChainMailError)).to.equal(error);
    expect(error.walk((e) => e === "nothing")).to.equal(null);
  });
});
