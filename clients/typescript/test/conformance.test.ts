// The conformance suite (tests/conformance/cases/*.json), run through the TypeScript
// client. tests/conformance/test_conformance.py runs the same files through the Python
// client; tests/conformance/README.md defines the format. Keep the two interpreters in
// step: same variables, same `$` operators, same event buffer semantics.
//
// Each case gets a fresh sidecar. Every successful result and every event is also
// validated against schemas/ (the Python runner uses the msgspec decoders instead).

import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";

import { Client, NAMESPACES, RpcError, Vm, VmProcess, type VmConfig } from "../src/index.js";
import { CASES_DIR, SCHEMA_PATH, connectReal, within } from "./helpers.js";

const DEFAULT_EVENT_TIMEOUT_MS = 10_000;
const CASE_TIMEOUT_MS = 120_000;
const CASE_KEYS = new Set(["name", "steps", "requires", "xfail", "description"]);
const CALL_KEYS = new Set(["call", "params", "expect", "save", "description"]);
const AWAIT_KEYS = new Set(["awaitEvent", "timeoutMs", "expect", "save", "collect", "description"]);
const COLLECT_KEYS = new Set(["match", "concat", "expect", "save"]);
const USE_KEYS = new Set(["use", "on", "args", "as", "expect", "save", "description"]);
const VAR = /\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g;
const WHOLE_VAR = /^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$/;

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type Obj = { [key: string]: Json };
type Vars = Map<string, Json>;
interface Case {
  name: string;
  steps: Obj[];
  requires?: string[];
  xfail?: string;
}
interface CaseFile {
  description?: string;
  requires?: string[];
  cases: Case[];
}

class Mismatch extends Error {
  override name = "Mismatch";
}

// --- values and matching ------------------------------------------------------------

const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);
const isOperator = (v: unknown): v is Obj => isObj(v) && Object.keys(v).length > 0 && Object.keys(v).every((k) => k.startsWith("$"));
const show = (v: unknown): string => JSON.stringify(v);

function variable(vars: Vars, name: string): Json {
  if (!vars.has(name)) throw new Error(`case error: variable \${${name}} is used before it is saved`);
  return vars.get(name)!;
}

function resolveValue(value: Json, vars: Vars): Json {
  if (typeof value === "string") {
    const whole = WHOLE_VAR.exec(value);
    if (whole) return variable(vars, whole[1]!);
    return value.replace(VAR, (_, name: string) => {
      const v = variable(vars, name);
      return typeof v === "string" ? v : JSON.stringify(v);
    });
  }
  if (Array.isArray(value)) return value.map((v) => resolveValue(v, vars));
  if (isObj(value)) {
    const keys = Object.keys(value);
    if (keys.length === 1 && keys[0] === "$utf8") {
      return Buffer.from(resolveValue(value.$utf8!, vars) as string, "utf8").toString("base64");
    }
    return Object.fromEntries(keys.map((k) => [k, resolveValue(value[k]!, vars)]));
  }
  return value;
}

const TYPES: Record<string, (v: Json) => boolean> = {
  string: (v) => typeof v === "string",
  integer: (v) => typeof v === "number" && Number.isInteger(v),
  number: (v) => typeof v === "number",
  boolean: (v) => typeof v === "boolean",
  array: (v) => Array.isArray(v),
  object: (v) => isObj(v),
  null: (v) => v === null,
};

function same(a: Json, b: Json): boolean {
  if (typeof a !== typeof b) return false;
  if (a === null || b === null) return a === b;
  if (typeof a === "object") return JSON.stringify(a) === JSON.stringify(b) && Array.isArray(a) === Array.isArray(b);
  return a === b;
}

function matches(expected: Json, actual: Json): boolean {
  try {
    match(expected, actual, "$");
    return true;
  } catch (err) {
    if (err instanceof Mismatch) return false;
    throw err;
  }
}

function match(expected: Json, actual: Json, where: string): void {
  if (isOperator(expected)) {
    for (const [op, arg] of Object.entries(expected)) operator(op, arg, actual, where);
  } else if (isObj(expected)) {
    if (!isObj(actual)) throw new Mismatch(`${where}: expected an object, got ${show(actual)}`);
    for (const [key, sub] of Object.entries(expected)) {
      if (isOperator(sub) && "$absent" in sub) {
        if (sub.$absent && key in actual) throw new Mismatch(`${where}.${key}: expected absent, got ${show(actual[key])}`);
        if (!sub.$absent && !(key in actual)) throw new Mismatch(`${where}.${key}: expected present`);
        continue;
      }
      if (!(key in actual)) throw new Mismatch(`${where}.${key}: missing (have ${Object.keys(actual).sort()})`);
      match(sub, actual[key]!, `${where}.${key}`);
    }
  } else if (Array.isArray(expected)) {
    if (!Array.isArray(actual) || actual.length !== expected.length) {
      throw new Mismatch(`${where}: expected a list of ${expected.length}, got ${show(actual)}`);
    }
    expected.forEach((e, i) => match(e, actual[i]!, `${where}[${i}]`));
  } else if (!same(expected, actual)) {
    throw new Mismatch(`${where}: expected ${show(expected)}, got ${show(actual)}`);
  }
}

function operator(op: string, arg: Json, actual: Json, where: string): void {
  switch (op) {
    case "$type": {
      const check = TYPES[arg as string];
      if (!check) throw new Error(`case error: unknown $type ${show(arg)}`);
      if (!check(actual)) throw new Mismatch(`${where}: expected a ${arg}, got ${show(actual)}`);
      return;
    }
    case "$contains":
      if (!Array.isArray(actual)) throw new Mismatch(`${where}: expected a list, got ${show(actual)}`);
      for (const item of arg as Json[]) {
        if (!actual.some((a) => matches(item, a))) throw new Mismatch(`${where}: no element matches ${show(item)} in ${show(actual)}`);
      }
      return;
    case "$unordered":
      if (!Array.isArray(actual) || actual.length !== (arg as Json[]).length) {
        throw new Mismatch(`${where}: expected a list of ${(arg as Json[]).length} in any order, got ${show(actual)}`);
      }
      if (!permutationMatches(arg as Json[], actual)) throw new Mismatch(`${where}: ${show(actual)} is not a permutation matching ${show(arg)}`);
      return;
    case "$not":
      if (matches(arg, actual)) throw new Mismatch(`${where}: expected not to match ${show(arg)}, got ${show(actual)}`);
      return;
    case "$ne":
      if (same(arg, actual)) throw new Mismatch(`${where}: expected anything but ${show(arg)}`);
      return;
    case "$gte":
    case "$lte":
      if (typeof actual !== "number" || !(op === "$gte" ? actual >= (arg as number) : actual <= (arg as number))) {
        throw new Mismatch(`${where}: expected ${op} ${show(arg)}, got ${show(actual)}`);
      }
      return;
    case "$absent":
      throw new Error(`case error: ${where}: $absent is only valid as an object member`);
    default:
      throw new Error(`case error: ${where}: unknown operator ${op}`);
  }
}

function permutationMatches(expected: Json[], actual: Json[]): boolean {
  if (expected.length === 0) return true;
  const [first, ...rest] = expected;
  return actual.some((a, i) => matches(first!, a) && permutationMatches(rest, [...actual.slice(0, i), ...actual.slice(i + 1)]));
}

function lookup(value: Json, path: string): Json {
  for (const part of path ? path.split(".") : []) {
    if (Array.isArray(value) && /^\d+$/.test(part)) value = value[Number(part)]!;
    else if (isObj(value) && part in value) value = value[part]!;
    else throw new Mismatch(`cannot save ${show(path)}: ${show(part)} not found in ${show(value)}`);
  }
  return value;
}

function save(saves: Json | undefined, source: Json, vars: Vars): void {
  for (const [name, path] of Object.entries((saves ?? {}) as Obj)) vars.set(name, lookup(source, path as string));
}

// --- schema validation (the subset of JSON Schema msgspec emits) ---------------------

const schema = JSON.parse(readFileSync(SCHEMA_PATH, "utf8"));
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

function validate(node: any, value: Json, where: string): string | null {
  if (node.$ref) return validate(schema.$defs[node.$ref.split("/").pop()], value, where);
  const union = node.anyOf ?? node.oneOf;
  if (union) {
    const errors = union.map((branch: any) => validate(branch, value, where));
    return errors.some((e: string | null) => e === null) ? null : `${where}: matches no alternative (${errors.join("; ")})`;
  }
  if (node.enum && !node.enum.some((e: Json) => same(e, value))) return `${where}: ${show(value)} not in ${show(node.enum)}`;
  if (node.type) {
    const types: string[] = Array.isArray(node.type) ? node.type : [node.type];
    if (!types.some((t) => TYPES[t]!(value))) return `${where}: expected ${types.join("|")}, got ${show(value)}`;
  }
  if (typeof value === "number") {
    if (node.minimum !== undefined && value < node.minimum) return `${where}: ${value} < ${node.minimum}`;
    if (node.maximum !== undefined && value > node.maximum) return `${where}: ${value} > ${node.maximum}`;
  }
  if (typeof value === "string") {
    if (node.minLength !== undefined && value.length < node.minLength) return `${where}: shorter than ${node.minLength}`;
    if (node.maxLength !== undefined && value.length > node.maxLength) return `${where}: longer than ${node.maxLength}`;
    if (node.pattern && !new RegExp(node.pattern, "u").test(value)) return `${where}: does not match ${node.pattern}`;
    if (node.contentEncoding === "base64" && !BASE64.test(value)) return `${where}: not base64`;
  }
  if (Array.isArray(value) && node.items) {
    for (let i = 0; i < value.length; i++) {
      const err = validate(node.items, value[i]!, `${where}[${i}]`);
      if (err) return err;
    }
  }
  if (isObj(value)) {
    for (const key of node.required ?? []) if (!(key in value)) return `${where}: missing required ${key}`;
    for (const [key, v] of Object.entries(value)) {
      const prop = node.properties?.[key];
      if (prop) {
        const err = validate(prop, v, `${where}.${key}`);
        if (err) return err;
      } else if (node.additionalProperties === false) {
        return `${where}: unexpected field ${key}`;
      } else if (isObj(node.additionalProperties)) {
        const err = validate(node.additionalProperties, v, `${where}.${key}`);
        if (err) return err;
      }
    }
  }
  return null;
}

// --- running ------------------------------------------------------------------------

/** Every event of the case's connection, in arrival order, until consumed. */
class EventBuffer {
  readonly events: Obj[] = [];
  #wake: (() => void) | null = null;

  push(event: Obj): void {
    const err = validate({ oneOf: schema.events.oneOf }, event, "event");
    if (err) throw new Mismatch(`event does not match the protocol: ${err}`);
    this.events.push(event);
    this.#wake?.();
  }

  async take(matcher: Json, timeoutMs: number): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const index = this.events.findIndex((e) => matches(matcher, e));
      if (index >= 0) return index;
      const left = deadline - Date.now();
      if (left <= 0) throw new Mismatch(`no event matching ${show(matcher)} within ${timeoutMs} ms; received ${show(this.events)}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#wake = () => (clearTimeout(timer), resolve());
      });
      this.#wake = null;
    }
  }
}

function errorJson(err: RpcError): Obj {
  const { code, message, data } = err.error;
  return { code, message, ...((data ?? {}) as Obj) };
}

async function callStep(client: Client, step: Obj, vars: Vars, where: string): Promise<void> {
  const method = step.call as string;
  const params = resolveValue(step.params ?? {}, vars);
  const expect = (step.expect ?? {}) as Obj;
  const keys = Object.keys(expect);
  if (keys.length > 1 || keys.some((k) => k !== "result" && k !== "error")) throw new Error(`case error: ${where}: expect takes exactly one of result, error`);
  let result: Json;
  try {
    result = (await client.callRaw(method, params)) as Json;
  } catch (err) {
    if (!(err instanceof RpcError)) throw err;
    const error = errorJson(err);
    if (!("error" in expect)) throw new Mismatch(`${where}: ${method} failed: ${show(error)}`);
    match(resolveValue(expect.error!, vars), error, `${where} error`);
    save(step.save, error, vars);
    return;
  }
  if ("error" in expect) throw new Mismatch(`${where}: ${method} succeeded with ${show(result)}, expected error ${show(expect.error)}`);
  const spec = schema.methods[method];
  if (spec) {
    const err = validate(spec.result, result, "result");
    if (err) throw new Mismatch(`${where}: result of ${method} does not match the protocol: ${err}`);
  }
  if ("result" in expect) match(resolveValue(expect.result!, vars), result, `${where} result`);
  save(step.save, result, vars);
}

async function awaitStep(buffer: EventBuffer, step: Obj, vars: Vars, where: string): Promise<void> {
  const matcher = resolveValue(step.awaitEvent!, vars);
  const index = await buffer.take(matcher, (step.timeoutMs as number | undefined) ?? DEFAULT_EVENT_TIMEOUT_MS);
  const event = buffer.events[index]!;
  const consumed = new Set([index]);
  ((step.collect ?? []) as Obj[]).forEach((collector, n) => {
    if (Object.keys(collector).some((k) => !COLLECT_KEYS.has(k)) || !("match" in collector) || !("concat" in collector)) {
      throw new Error(`case error: ${where}: collect[${n}] needs match and concat (and optionally expect, save)`);
    }
    const m = resolveValue(collector.match!, vars);
    const chunks: Buffer[] = [];
    for (let i = 0; i < index; i++) {
      if (!consumed.has(i) && matches(m, buffer.events[i]!)) {
        consumed.add(i);
        chunks.push(Buffer.from(buffer.events[i]![collector.concat as string] as string, "base64"));
      }
    }
    const joined = Buffer.concat(chunks).toString("base64");
    if ("expect" in collector) match(resolveValue(collector.expect!, vars), joined, `${where} collect[${n}] (utf8 ${show(Buffer.concat(chunks).toString("utf8"))})`);
    if ("save" in collector) vars.set(collector.save as string, joined);
  });
  const remaining = buffer.events.filter((_, i) => !consumed.has(i));
  buffer.events.splice(0, buffer.events.length, ...remaining);
  if ("expect" in step) match(resolveValue(step.expect!, vars), event, `${where} event`);
  save(step.save, event, vars);
}

// --- `use` steps: the handle API (createVm, vm.fs, vm.exec, vm.spawn, VmProcess) -------

/** A binary argument: base64 on the case's side; `{"$text": s}` passes the string itself
 * (the str rule), `{"$value": v}` passes any JSON value unchanged. */
function argBytes(value: Json | undefined): Uint8Array | string {
  if (isObj(value) && Object.keys(value).length === 1 && "$text" in value) return value.$text as string;
  if (isObj(value) && Object.keys(value).length === 1 && "$value" in value) return value.$value as unknown as string;
  return new Uint8Array(Buffer.from(value as string, "base64"));
}

const b64 = (data: Uint8Array): string => Buffer.from(data).toString("base64");
const wireJson = (value: unknown): Json => JSON.parse(JSON.stringify(value, (_, v) => (v instanceof Uint8Array ? b64(v) : v)));
type Handle = Vm | VmProcess;

async function useOp(client: Client, op: string, target: Handle | undefined, a: Obj): Promise<[Json, Handle | null]> {
  const vm = target as Vm;
  const proc = target as VmProcess;
  const program = (): string | string[] => (a.argv as string[] | undefined) ?? (a.command as string);
  switch (op) {
    case "createVm": {
      const created = await client.createVm((a.config ?? {}) as VmConfig);
      return [{ vmId: created.vmId }, created];
    }
    case "vm.fs.write":
      await vm.fs.write(a.path as string, argBytes(a.data));
      return [null, null];
    case "vm.fs.read":
      return [b64(await vm.fs.read(a.path as string)), null];
    case "vm.exec": {
      const options = {
        stdin: "stdin" in a ? argBytes(a.stdin) : undefined,
        env: a.env as Record<string, string> | undefined,
        maxOutputBytes: a.maxOutputBytes as number | undefined,
      };
      return [wireJson(await vm.exec(program(), options)), null];
    }
    case "vm.spawn": {
      const spawned = await vm.spawn(program());
      return [{ pid: spawned.pid }, spawned];
    }
    case "vm.dispose":
      await vm.dispose();
      return [null, null];
    case "process.output": {
      const out: Record<string, Buffer[]> = { stdout: [], stderr: [] };
      for await (const chunk of proc) out[chunk.stream]!.push(Buffer.from(chunk.data));
      const status = await proc.wait();
      return [{ stdout: Buffer.concat(out.stdout!).toString("base64"), stderr: Buffer.concat(out.stderr!).toString("base64"), ...wireJson(status) as Obj }, null];
    }
    case "process.wait":
      return [wireJson(await proc.wait()), null];
    case "process.writeStdin":
      await proc.writeStdin(argBytes(a.data));
      return [null, null];
    case "process.closeStdin":
      await proc.closeStdin();
      return [null, null];
    case "process.kill":
      await proc.kill((a.signal as "SIGTERM" | undefined) ?? "SIGTERM");
      return [null, null];
    default:
      throw new Error(`case error: unknown use operation ${op}`);
  }
}

async function useStep(client: Client, handles: Map<string, Handle>, step: Obj, vars: Vars, where: string): Promise<void> {
  const expect = (step.expect ?? {}) as Obj;
  let target: Handle | undefined;
  if ("on" in step) {
    target = handles.get(step.on as string);
    if (!target) throw new Error(`case error: ${where}: no handle named ${step.on}`);
  }
  let result: Json;
  let handle: Handle | null;
  try {
    [result, handle] = await useOp(client, step.use as string, target, resolveValue(step.args ?? {}, vars) as Obj);
  } catch (err) {
    if (!(err instanceof RpcError) && !(err instanceof TypeError)) throw err;
    const error = err instanceof RpcError ? errorJson(err) : { kind: "client_type_error", message: err.message };
    if (!("error" in expect)) throw new Mismatch(`${where}: ${step.use} failed: ${show(error)}`);
    match(resolveValue(expect.error!, vars), error, `${where} error`);
    return;
  }
  if ("error" in expect) throw new Mismatch(`${where}: ${step.use} succeeded with ${show(result)}, expected error ${show(expect.error)}`);
  if ("as" in step && handle) handles.set(step.as as string, handle);
  if ("result" in expect) match(resolveValue(expect.result!, vars), result, `${where} result`);
  save(step.save, result, vars);
}

async function runCase(client: Client, buffer: EventBuffer, kase: Case): Promise<void> {
  const vars: Vars = new Map();
  const handles = new Map<string, Handle>();
  for (const [n, step] of kase.steps.entries()) {
    const where = `step ${n + 1}`;
    if ("call" in step) {
      const unknown = Object.keys(step).filter((k) => !CALL_KEYS.has(k));
      if (unknown.length) throw new Error(`case error: ${where}: unknown keys ${unknown}`);
      await callStep(client, step, vars, `${where} (${step.call})`);
    } else if ("awaitEvent" in step) {
      const unknown = Object.keys(step).filter((k) => !AWAIT_KEYS.has(k));
      if (unknown.length) throw new Error(`case error: ${where}: unknown keys ${unknown}`);
      await awaitStep(buffer, step, vars, `${where} (awaitEvent)`);
    } else if ("use" in step) {
      const unknown = Object.keys(step).filter((k) => !USE_KEYS.has(k));
      if (unknown.length) throw new Error(`case error: ${where}: unknown keys ${unknown}`);
      await useStep(client, handles, step, vars, `${where} (${step.use})`);
    } else {
      throw new Error(`case error: ${where}: a step needs \`call\`, \`awaitEvent\` or \`use\``);
    }
  }
}

async function runWithSidecar(requires: string[], kase: Case, skip: (why: string) => void): Promise<void> {
  const client = await connectReal();
  try {
    const missing = requires.filter((m) => !client.hello.methods.includes(m));
    if (missing.length) {
      skip(`sidecar does not serve ${missing.join(", ")} yet`);
      return;
    }
    const buffer = new EventBuffer();
    let eventError: unknown = null;
    client.onEvent((event) => {
      try {
        buffer.push(JSON.parse(JSON.stringify(event, (_, v) => (v instanceof Uint8Array ? Buffer.from(v).toString("base64") : v))));
      } catch (err) {
        eventError ??= err;
      }
    });
    await runCase(client, buffer, kase);
    if (eventError) throw eventError;
  } finally {
    await client.close();
  }
}

const files = readdirSync(CASES_DIR).filter((f) => f.endsWith(".json")).sort();

for (const file of files) {
  const doc = JSON.parse(readFileSync(join(CASES_DIR, file), "utf8")) as CaseFile;
  describe(`conformance ${file.replace(/\.json$/, "")}`, () => {
    const names = new Set<string>();
    for (const kase of doc.cases) {
      const unknown = Object.keys(kase).filter((k) => !CASE_KEYS.has(k));
      assert.deepEqual(unknown, [], `${file}: case ${kase.name} has unknown keys`);
      assert.ok(!names.has(kase.name), `${file}: duplicate case name ${kase.name}`);
      names.add(kase.name);
      const requires = [...(doc.requires ?? []), ...(kase.requires ?? [])];
      test(kase.name, { timeout: CASE_TIMEOUT_MS }, async (t) => {
        const run = within(CASE_TIMEOUT_MS, runWithSidecar(requires, kase, (why) => t.skip(why)), kase.name);
        if (kase.xfail === undefined) return run;
        // A known sidecar bug: report it, never fail on it (as pytest's non-strict xfail).
        try {
          await run;
          t.diagnostic(`XPASS (marked xfail: ${kase.xfail})`);
        } catch (err) {
          t.todo(`xfail: ${kase.xfail}: ${err instanceof Error ? err.message : err}`);
        }
      });
    }
  });
}

test("the conformance cases call every method of the TypeScript client", () => {
  const called = new Set<string>();
  for (const file of files) {
    for (const kase of (JSON.parse(readFileSync(join(CASES_DIR, file), "utf8")) as CaseFile).cases) {
      for (const step of kase.steps) if (typeof step.call === "string") called.add(step.call);
    }
  }
  const methods = Object.entries(NAMESPACES).flatMap(([ns, Api]) =>
    Object.getOwnPropertyNames(Api.prototype).filter((n) => n !== "constructor").map((n) => `${ns}.${n}`),
  );
  assert.deepEqual(methods.filter((m) => !called.has(m)), [], "add a case to tests/conformance/cases/");
});

test("every method the real sidecar serves is a method of the TypeScript client", async () => {
  const client = await connectReal();
  try {
    const exposed = new Set(Object.entries(NAMESPACES).flatMap(([ns, Api]) => Object.getOwnPropertyNames(Api.prototype).map((n) => `${ns}.${n}`)));
    const missing = client.hello.methods.filter((m) => !exposed.has(m));
    assert.deepEqual(missing, [], "the sidecar serves methods the client lacks: run `make schemas` and `npm run build`");
  } finally {
    await client.close();
  }
});
