// Binary fields: `Uint8Array` in the client's types, base64 strings on the wire (msgspec
// encodes `bytes` as base64). The generator records where such fields are (`CODECS`), so
// converting a message walks only the parts of it that can hold bytes.

import { CODECS, EVENT_DEFS, METHOD_TYPES, type MethodName } from "./generated/protocol.js";

/** Where the base64 fields of one JSON value are. */
export type Codec =
  | "bytes"
  | { ref: string }
  | { items: Codec }
  | { values: Codec }
  | { fields: Record<string, Codec> }
  | { tag: string; cases: Record<string, Codec> };

type Direction = "toWire" | "fromWire";

function convert(codec: Codec, value: unknown, dir: Direction, at: string): unknown {
  if (value === null || value === undefined) return value;
  if (codec === "bytes") return dir === "toWire" ? encodeBytes(value, at) : decodeBytes(value, at);
  if ("ref" in codec) {
    const target = CODECS[codec.ref];
    return target ? convert(target, value, dir, at) : value;
  }
  if ("items" in codec) {
    if (!Array.isArray(value)) return value;
    return value.map((item, i) => convert(codec.items, item, dir, `${at}[${i}]`));
  }
  if (!isPlainObject(value)) return value;
  if ("values" in codec) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, convert(codec.values, v, dir, `${at}.${k}`)]));
  }
  if ("tag" in codec) {
    const branch = codec.cases[String(value[codec.tag])];
    return branch ? convert(branch, value, dir, at) : value;
  }
  const out: Record<string, unknown> = { ...value };
  for (const [name, fieldCodec] of Object.entries(codec.fields)) {
    if (name in out) out[name] = convert(fieldCodec, out[name], dir, `${at}.${name}`);
  }
  return out;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array);
}

function encodeBytes(value: unknown, at: string): string {
  if (!(value instanceof Uint8Array)) {
    throw new TypeError(`${at}: expected a Uint8Array (binary field), got ${typeof value}`);
  }
  return Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString("base64");
}

function decodeBytes(value: unknown, at: string): Uint8Array {
  if (typeof value !== "string") throw new TypeError(`${at}: expected a base64 string from the sidecar`);
  const buf = Buffer.from(value, "base64");
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
}

function byName(typeName: string | undefined, value: unknown, dir: Direction, at: string): unknown {
  const codec = typeName === undefined ? undefined : CODECS[typeName];
  return codec ? convert(codec, value, dir, at) : value;
}

/** Client-typed params -> wire JSON (Uint8Array -> base64). */
export function paramsToWire(method: string, params: unknown): unknown {
  return byName(METHOD_TYPES[method as MethodName]?.params, params, "toWire", "params");
}

/** Wire JSON result -> client-typed result (base64 -> Uint8Array). */
export function resultFromWire(method: string, result: unknown): unknown {
  return byName(METHOD_TYPES[method as MethodName]?.result, result, "fromWire", "result");
}

/** Wire JSON event -> client-typed event. */
export function eventFromWire(event: unknown): unknown {
  const type = isPlainObject(event) ? String(event.type) : "";
  return byName((EVENT_DEFS as Record<string, string>)[type], event, "fromWire", "event");
}
