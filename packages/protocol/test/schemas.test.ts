/** The JSON Schema files committed for Kafka consumers in other languages. */
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { expect } from "chai";
import { jsonSchemaDocument, MembershipEventSchema, MessageEventSchema, packBatchBytes, RetractionEventSchema, SignedMessageJson } from "../src/index.js";

const SCHEMAS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../schemas");

describe("protocol: Kafka event schemas", function () {
  it("commits the JSON Schemas the mirror publishes against", function () {
    for (const [file, schema] of [
      ["message-event.v1.schema.json", MessageEventSchema],
      ["membership-event.v1.schema.json", MembershipEventSchema],
      ["retraction.v1.schema.json", RetractionEventSchema],
    ] as const) {
      const committed = JSON.parse(readFileSync(path.join(SCHEMAS, file), "utf8"));
      expect(committed, `packages/protocol/schemas/${file} is out of date; regenerate it from src/kafka-events.ts`).to.deep.equal(jsonSchemaDocument(schema));
    }
  });
});

describe("protocol: hex byte patterns on long values", function () {
  // A capture group repeated once per byte (`^0x([0-9a-f]{2})*$`) overflows V8's regexp
  // stack from about 4 MiB: the check threw a RangeError instead of answering.
  const long = "0x" + "ab".repeat(8 * 1024 * 1024);

  it("answer for 8 MiB bodies in every schema that holds message bytes, and still refuse odd digits", function () {
    const patterns: string[] = [];
    const collect = (node: unknown): void => {
      if (typeof node !== "object" || node === null) return;
      const pattern = (node as { pattern?: unknown }).pattern;
      if (typeof pattern === "string" && pattern.includes("{2})*")) patterns.push(pattern);
      for (const value of Object.values(node)) collect(value);
    };
    collect(SignedMessageJson);
    collect(jsonSchemaDocument(MessageEventSchema));
    expect(patterns.length).to.be.greaterThanOrEqual(3);
    for (const pattern of patterns) {
      const re = new RegExp(pattern, "u");
      expect(re.test(long), pattern).to.equal(true);
      expect(re.test(long + "a"), pattern).to.equal(false);
    }
  });

  it("packBatchBytes packs a message with a 4 MiB body", function () {
    const body = "0x" + "cd".repeat(4 * 1024 * 1024);
    const message = { channel: "0x" + "11".repeat(32), author: "0x" + "22".repeat(20), body, contentType: 3, timestamp: 1n, replyTo: 0n, nonce: 1n, signature: "0x" + "33".repeat(65) };
    expect(packBatchBytes([message]).length).to.be.greaterThan(4 * 1024 * 1024);
  });
});
