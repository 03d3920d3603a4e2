// Parity: the TypeScript client exposes exactly the wire methods of schemas/ (which a
// Python test checks against protocol/), each as a documented async method of its
// namespace, and the generated types cover every method and event.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";

import { CONNECTION_METHODS, Client, EVENT_TYPES, METHOD_NAMES, NAMESPACES, PROTOCOL_VERSION } from "../src/index.js";
import { SCHEMA_PATH } from "./helpers.js";

const schema = JSON.parse(readFileSync(SCHEMA_PATH, "utf8"));
const schemaMethods = Object.keys(schema.methods).filter((m) => !CONNECTION_METHODS.includes(m as never));

/** `ns.verb` for every public method on the client's namespaces. */
function exposedMethods(): string[] {
  const out: string[] = [];
  for (const [ns, Api] of Object.entries(NAMESPACES)) {
    for (const name of Object.getOwnPropertyNames(Api.prototype)) {
      if (name !== "constructor" && typeof Api.prototype[name as keyof typeof Api.prototype] === "function") out.push(`${ns}.${name}`);
    }
  }
  return out.sort();
}

test("every wire method in schemas/ is a method of the TypeScript client", () => {
  const exposed = new Set(exposedMethods());
  const missing = schemaMethods.filter((m) => !exposed.has(m));
  assert.deepEqual(missing, [], `missing from the TypeScript client (run npm run build after make schemas): ${missing}`);
});

test("the TypeScript client has no method outside schemas/", () => {
  const extra = exposedMethods().filter((m) => !schemaMethods.includes(m));
  assert.deepEqual(extra, [], `client methods with no wire method: ${extra}`);
});

test("every namespace is a property of Client", () => {
  const names = Object.keys(NAMESPACES).sort();
  const expected = [...new Set(schemaMethods.map((m) => m.split(".")[0]!))].sort();
  assert.deepEqual(names, expected);
  // ProtocolSurface assigns one instance per namespace; check through a bare prototype chain.
  for (const ns of names) {
    const descriptor = Object.getOwnPropertyDescriptor(Client.prototype, ns);
    assert.equal(descriptor, undefined, `${ns} must be an instance property, not a prototype accessor`);
  }
});

test("generated lists match the schema", () => {
  assert.deepEqual([...METHOD_NAMES], Object.keys(schema.methods));
  const eventTypes = schema.events.oneOf.map((ref: { $ref: string }) => {
    const name = ref.$ref.split("/").pop()!;
    return schema.$defs[name].properties.type.enum[0];
  });
  assert.deepEqual([...EVENT_TYPES], eventTypes);
  assert.equal(PROTOCOL_VERSION, schema.protocolVersion);
});

test("every generated method has a doc comment naming its wire method", () => {
  const source = readFileSync(new URL("../../src/generated/protocol.ts", import.meta.url), "utf8");
  for (const m of schemaMethods) {
    assert.match(source, new RegExp(`\\* Wire method \`${m.replace(".", "\\.")}\``), `${m} lacks its doc comment`);
  }
});
