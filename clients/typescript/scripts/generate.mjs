// Generate src/generated/protocol.ts from ../../schemas/agentvm-protocol.schema.json.
//
// The schema (itself generated from the msgspec Structs in protocol/) is the only input,
// so the TypeScript client cannot drift from the wire:
//
// - every `$defs` entry becomes an interface (json-schema-to-typescript), with the Struct
//   docstrings as doc comments. Binary fields (`contentEncoding: base64`) are typed
//   `Uint8Array`: the client converts them to and from base64 at the boundary, as the
//   Python client hands out `bytes`.
// - `Methods` maps each wire method to its params and result types; `METHOD_NAMES`,
//   `EVENT_TYPES` and `PROTOCOL_VERSION` are the runtime lists.
// - `CODECS` tells the runtime where the base64 fields are (src/codec.ts walks it).
// - one `<Namespace>Api` class per namespace with one method per wire method, its doc
//   comment taken from the params Struct's docstring, and `ProtocolSurface`, the base
//   class of `Client`, holding one instance per namespace. A method added to protocol/
//   therefore reaches the TypeScript client when `make schemas` runs; test/parity.test.ts
//   checks the result against the schema in both directions.
//
// Run by `npm run build` (and `npm run generate`). Output is not committed.

import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { basename, dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { compile } from "json-schema-to-typescript";

const here = dirname(fileURLToPath(import.meta.url));
const pkg = resolve(here, "..");
const schemaPath = resolve(process.env.AGENTVM_SCHEMA ?? join(pkg, "../../schemas/agentvm-protocol.schema.json"));
const outPath = join(pkg, "src/generated/protocol.ts");

// Methods that are part of the connection rather than a namespace: `hello` is sent by
// `Client.connect` and its result is `client.hello`.
const CONNECTION_METHODS = new Set(["hello"]);

let schema;
try {
  schema = JSON.parse(readFileSync(schemaPath, "utf8"));
} catch (err) {
  console.error(`generate: cannot read ${schemaPath}: ${err.message}\n(run \`make schemas\` at the repository root)`);
  process.exit(1);
}
const defs = schema.$defs;
const refName = (node) => node.$ref.replace(/^#\/\$defs\//, "");

/** Python docstring -> doc comment text: dedent continuation lines, ``x`` -> `x`. */
function cleanDoc(text) {
  if (!text) return "";
  const lines = text.split("\n");
  const rest = lines.slice(1).filter((l) => l.trim());
  const indent = Math.min(...rest.map((l) => l.match(/^ */)[0].length), Infinity);
  const body = [lines[0], ...lines.slice(1).map((l) => l.slice(Number.isFinite(indent) ? indent : 0))].join("\n");
  return body.replace(/``([^`]+)``/g, "`$1`").replace(/\*\//g, "*\\/").trim();
}

const isBytes = (node) => node && node.type === "string" && node.contentEncoding === "base64";

/** Copy of a schema node with bytes typed as Uint8Array and docs cleaned. */
function forTypes(node) {
  if (Array.isArray(node)) return node.map(forTypes);
  if (!node || typeof node !== "object") return node;
  if (isBytes(node)) return { tsType: "Uint8Array", ...(node.description ? { description: cleanDoc(node.description) } : {}) };
  const out = {};
  for (const [k, v] of Object.entries(node)) {
    if (k === "description") out[k] = cleanDoc(v);
    else if (k === "properties" || k === "$defs") out[k] = Object.fromEntries(Object.entries(v).map(([n, s]) => [n, forTypes(s)]));
    else if (k === "default" || k === "enum" || k === "required") out[k] = v;
    else out[k] = forTypes(v);
  }
  return out;
}

// ---- codecs: where base64 fields live, computed to a fixpoint (types may recurse) ----
const needs = new Map(Object.keys(defs).map((n) => [n, false]));
function codecOf(node) {
  if (!node || typeof node !== "object") return null;
  if (isBytes(node)) return "bytes";
  if (node.$ref) return needs.get(refName(node)) ? { ref: refName(node) } : null;
  const union = node.anyOf ?? node.oneOf;
  if (union) {
    const branches = union.map((b) => [b, codecOf(b)]).filter(([, c]) => c !== null);
    if (branches.length === 0) return null;
    if (branches.length === 1) return branches[0][1];
    const tag = node.discriminator?.propertyName;
    if (!tag) throw new Error(`generate: union with several binary branches and no discriminator: ${JSON.stringify(node)}`);
    const cases = {};
    for (const [tagValue, target] of Object.entries(node.discriminator.mapping)) {
      const c = codecOf({ $ref: target });
      if (c) cases[tagValue] = c;
    }
    return { tag, cases };
  }
  if (node.type === "array" && node.items) {
    const c = codecOf(node.items);
    return c && { items: c };
  }
  if (node.type === "object" && node.properties) {
    const fields = {};
    for (const [name, prop] of Object.entries(node.properties)) {
      const c = codecOf(prop);
      if (c) fields[name] = c;
    }
    return Object.keys(fields).length ? { fields } : null;
  }
  if (node.type === "object" && node.additionalProperties && typeof node.additionalProperties === "object") {
    const c = codecOf(node.additionalProperties);
    return c && { values: c };
  }
  return null;
}
for (let changed = true; changed; ) {
  changed = false;
  for (const [name, def] of Object.entries(defs)) {
    if (!needs.get(name) && codecOf(def) !== null) {
      needs.set(name, true);
      changed = true;
    }
  }
}
const codecs = {};
for (const [name, def] of Object.entries(defs)) if (needs.get(name)) codecs[name] = codecOf(def);

// ---- methods, events, namespaces ----
const methodNames = Object.keys(schema.methods);
const typeOf = (node, what, method) => {
  if (!node.$ref) throw new Error(`generate: ${method} ${what} is not a $ref`);
  return refName(node);
};
const methods = methodNames.map((name) => ({
  name,
  params: typeOf(schema.methods[name].params, "params", name),
  result: typeOf(schema.methods[name].result, "result", name),
}));
const events = schema.events.oneOf.map((node) => {
  const def = defs[refName(node)];
  const tag = def.properties?.type?.enum;
  if (!tag || tag.length !== 1) throw new Error(`generate: event ${refName(node)} has no single "type" tag`);
  return { type: tag[0], def: refName(node) };
});
const namespaces = new Map();
for (const m of methods) {
  if (CONNECTION_METHODS.has(m.name)) continue;
  const match = /^([a-z][A-Za-z0-9]*)\.([a-z][A-Za-z0-9]*)$/.exec(m.name);
  if (!match) throw new Error(`generate: method ${m.name} is not namespace.verb`);
  const [, ns, verb] = match;
  if (!namespaces.has(ns)) namespaces.set(ns, []);
  namespaces.get(ns).push({ ...m, verb });
}
const className = (ns) => `${ns[0].toUpperCase()}${ns.slice(1)}Api`;
const hasRequired = (def) => (defs[def].required ?? []).length > 0;

const docBlock = (text, indent) => {
  const lines = text.split("\n");
  return [`${indent}/**`, ...lines.map((l) => (l ? `${indent} * ${l}` : `${indent} *`)), `${indent} */`].join("\n");
};

// ---- emit ----
const root = { title: "ProtocolTypes", type: "object", properties: {}, additionalProperties: false, $defs: forTypes(defs) };
let types = await compile(root, "ProtocolTypes", {
  bannerComment: "",
  unreachableDefinitions: true,
  additionalProperties: false,
  strictIndexSignatures: true,
  format: true,
  style: { printWidth: 110 },
});
types = types
  .replace(/export interface ProtocolTypes \{\}\n/, "")
  .replace(/\n \*\n \* This interface was referenced by `ProtocolTypes`'s JSON-Schema\n \* via the `definition` "[^"]+"\./g, "")
  .replace(/\/\*\*\n \* This interface was referenced by `ProtocolTypes`'s JSON-Schema\n \* via the `definition` "[^"]+"\.\n \*\/\n/g, "");

const out = [];
out.push(`// GENERATED by scripts/generate.mjs from schemas/${basename(schemaPath)}. Do not edit;`);
out.push(`// run \`npm run build\` (after \`make schemas\` when protocol/ changed).`);
out.push(`/* eslint-disable */`);
out.push(``);
out.push(`import type { CallOptions, Caller } from "../caller.js";`);
out.push(`import type { Codec } from "../codec.js";`);
out.push(``);
out.push(`/** The protocol version this client speaks; \`hello\` fails with \`version_mismatch\` otherwise. */`);
out.push(`export const PROTOCOL_VERSION = ${JSON.stringify(schema.protocolVersion)} as const;`);
out.push(``);
out.push(types.trimEnd());
out.push(``);
out.push(`/** Every wire method with its params and result types. */`);
out.push(`export interface Methods {`);
for (const m of methods) out.push(`  ${JSON.stringify(m.name)}: { params: ${m.params}; result: ${m.result} };`);
out.push(`}`);
out.push(``);
out.push(`/** Requests the sidecar makes of the client, with their params and result types. */`);
out.push(`export interface ClientRequests {`);
for (const [name, spec] of Object.entries(schema.clientRequests ?? {})) {
  out.push(`  ${JSON.stringify(name)}: { params: ${typeOf(spec.params, "params", name)}; result: ${typeOf(spec.result, "result", name)} };`);
}
out.push(`}`);
out.push(``);
out.push(`/** A wire method name (\`namespace.verb\`). */`);
out.push(`export type MethodName = keyof Methods;`);
out.push(``);
out.push(`/** Every wire method, in protocol order. */`);
out.push(`export const METHOD_NAMES: readonly MethodName[] = ${JSON.stringify(methodNames)};`);
out.push(``);
out.push(`/** Methods that belong to the connection, not to a namespace (\`hello\` is sent by \`connect\`). */`);
out.push(`export const CONNECTION_METHODS: readonly MethodName[] = ${JSON.stringify([...CONNECTION_METHODS])};`);
out.push(``);
out.push(`/** The payload of an \`event\` notification. */`);
out.push(`export type Event = ${events.map((e) => e.def).join(" | ") || "never"};`);
out.push(``);
out.push(`/** The \`type\` tag of an event. */`);
out.push(`export type EventType = Event["type"];`);
out.push(``);
out.push(`/** Every event type. */`);
out.push(`export const EVENT_TYPES: readonly EventType[] = ${JSON.stringify(events.map((e) => e.type))};`);
out.push(``);
out.push(`/** A stable error kind (\`ErrorData.kind\`). */`);
out.push(`export type ErrorKind = ErrorData["kind"];`);
out.push(``);
out.push(`/** Where base64 fields live, per type name (types without any are absent). */`);
out.push(`export const CODECS: Readonly<Record<string, Codec>> = ${JSON.stringify(codecs)};`);
out.push(``);
out.push(`/** Params and result type names of each method, for the codec. */`);
out.push(`export const METHOD_TYPES: Readonly<Record<MethodName, { params: string; result: string }>> = ${JSON.stringify(
  Object.fromEntries(methods.map((m) => [m.name, { params: m.params, result: m.result }])),
)};`);
out.push(``);
out.push(`/** Type name of each event, by its \`type\` tag. */`);
out.push(`export const EVENT_DEFS: Readonly<Record<EventType, string>> = ${JSON.stringify(
  Object.fromEntries(events.map((e) => [e.type, e.def])),
)};`);
for (const [ns, members] of namespaces) {
  out.push(``);
  out.push(docBlock(`\`${ns}.*\` methods. Each forwards one wire request and resolves with its result.`, ""));
  out.push(`export class ${className(ns)} {`);
  out.push(`  readonly #caller: Caller;`);
  out.push(``);
  out.push(`  constructor(caller: Caller) {`);
  out.push(`    this.#caller = caller;`);
  out.push(`  }`);
  for (const m of members) {
    const doc = cleanDoc(defs[m.params].description) || `Wire method \`${m.name}\`.`;
    const optional = !hasRequired(m.params);
    out.push(``);
    out.push(docBlock(`${doc}\n\nWire method \`${m.name}\`: params \`${m.params}\`, result \`${m.result}\`.`, "  "));
    out.push(
      `  ${m.verb}(params: ${m.params}${optional ? " = {}" : ""}, options?: CallOptions): Promise<${m.result}> {`,
    );
    out.push(`    return this.#caller.call(${JSON.stringify(m.name)}, params, options);`);
    out.push(`  }`);
  }
  out.push(`}`);
}
out.push(``);
out.push(`/** Namespace name -> its API class, for every namespace in the protocol. */`);
out.push(`export const NAMESPACES = { ${[...namespaces.keys()].map((ns) => `${ns}: ${className(ns)}`).join(", ")} } as const;`);
out.push(``);
out.push(`/** One property per namespace (\`client.vm\`, \`client.fs\`...); the base class of \`Client\`. */`);
out.push(`export abstract class ProtocolSurface {`);
for (const ns of namespaces.keys()) {
  out.push(docBlock(`\`${ns}.*\` methods.`, "  "));
  out.push(`  readonly ${ns}: ${className(ns)};`);
}
out.push(``);
out.push(`  protected constructor(caller: Caller) {`);
for (const ns of namespaces.keys()) out.push(`    this.${ns} = new ${className(ns)}(caller);`);
out.push(`  }`);
out.push(`}`);
out.push(``);

mkdirSync(dirname(outPath), { recursive: true });
writeFileSync(outPath, out.join("\n"));
console.error(`generate: ${methods.length} methods, ${events.length} events -> ${relative(pkg, outPath)}`);
