/** The JSON Schema files committed for Kafka consumers in other languages. */
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { expect } from "chai";
import { jsonSchemaDocument, MembershipEventSchema, MessageEventSchema, RetractionEventSchema } from "../src/index.js";

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
