// The public client: `Client.connect()` spawns `agentvm-sidecar --stdio`, performs the
// `hello` handshake and returns a client whose namespaces mirror the wire:
// `client.vm.create()`, `client.fs.readFile({ vmId, path })`, `client.process.exec(...)`.
//
// The namespaces come from the generated `ProtocolSurface` (scripts/generate.mjs), one
// method per wire method of schemas/, so the surface cannot lag the protocol. This file
// adds what is not per-method: connection lifetime, typed `call`, wire-level `callRaw`,
// events (listeners and async iterators) and handlers for sidecar -> client requests.

import { eventFromWire, paramsToWire, resultFromWire } from "./codec.js";
import type { CallOptions, Caller } from "./caller.js";
import { Connection, type HoldEvent, type RequestHandler, type SpawnOptions } from "./connection.js";
import { RpcError, SidecarError, VersionMismatchError } from "./errors.js";
import { Vm, type HandleContext } from "./handles.js";
import {
  PROTOCOL_VERSION,
  ProtocolSurface,
  type ClientRequests,
  type Event,
  type VmConfig,
  type EventType,
  type HelloResult,
  type MethodName,
  type Methods,
} from "./generated/protocol.js";

const DEFAULT_HANDSHAKE_TIMEOUT_MS = 60_000;
const DEFAULT_SHUTDOWN_GRACE_MS = 10_000;
/** `process.exec` kills the process (`timedOut`) after this unless `timeoutMs` says
 * otherwise (`null`: no limit), so a forgotten `sleep 1000` cannot hold a caller forever. */
export const DEFAULT_EXEC_TIMEOUT_MS = 5 * 60 * 1000;

/** Params filled in when the caller leaves them undefined (null means "none"). */
const DEFAULT_PARAMS: Partial<Record<MethodName, Record<string, unknown>>> = {
  "process.exec": { timeoutMs: DEFAULT_EXEC_TIMEOUT_MS },
};

/** Options of `Client.connect`. */
export interface ConnectOptions extends SpawnOptions {
  /** Reject with `SidecarError("timeout")` when `hello` is not answered in time (default 60 s). */
  handshakeTimeoutMs?: number;
  /** How long `close()` waits for the sidecar to exit before killing it (default 10 s). */
  shutdownGraceMs?: number;
  /** Name sent in `hello` (default `agentvm-typescript`). */
  clientName?: string;
}

/** Answers calls of one host tool: the validated input in, the output out. */
export type ToolHandler = (input: unknown, call: { vmId: string; signal: AbortSignal }) => unknown | Promise<unknown>;

/** An event with the given `type`. */
export type EventOf<T extends EventType> = Extract<Event, { type: T }>;

/**
 * A connection to one `agentvm-sidecar --stdio` subprocess.
 *
 * Create with `Client.connect()`; `close()` closes the sidecar's stdin, which disposes
 * every VM, and waits for it to exit (`await using client = await Client.connect()` does
 * the same). Every wire method is a method of a namespace property (`vm`, `fs`...),
 * taking the method's params object and resolving with its result; binary fields are
 * `Uint8Array`. Failures reject with `RpcError` (branch on `kind`/`errno`) or
 * `SidecarError` (the sidecar is gone); nothing waits forever.
 */
export class Client extends ProtocolSurface implements Caller {
  readonly #conn: Connection;
  readonly #caller: Caller;
  readonly #hello: HelloResult;
  readonly #shutdownGraceMs: number;
  readonly #tools = new Map<string, ToolHandler>();

  private constructor(conn: Connection, hello: HelloResult, shutdownGraceMs: number) {
    const caller = typedCaller(conn);
    super(caller);
    this.#conn = conn;
    this.#caller = caller;
    this.#hello = hello;
    this.#shutdownGraceMs = shutdownGraceMs;
  }

  /**
   * Spawn the sidecar, perform `hello`, and resolve with a ready client.
   *
   * @throws SidecarError `failed_to_start` (command not runnable), `exited` (died before
   *   answering), `protocol_error` (not JSON-RPC on stdout) or `timeout`.
   * @throws VersionMismatchError the sidecar speaks another protocol version.
   */
  static async connect(options: ConnectOptions = {}): Promise<Client> {
    const conn = await Connection.spawn(options);
    const timeoutMs = options.handshakeTimeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS;
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const error = new SidecarError("timeout", `sidecar did not answer hello within ${timeoutMs} ms`);
        conn.abort(error);
        reject(error);
      }, timeoutMs);
    });
    try {
      const hello = (await Promise.race([
        conn.request("hello", { protocolVersion: PROTOCOL_VERSION, client: options.clientName ?? "agentvm-typescript" }),
        deadline,
      ])) as HelloResult;
      conn.maxFrameBytes = hello.maxFrameBytes;
      return new Client(conn, hello, options.shutdownGraceMs ?? DEFAULT_SHUTDOWN_GRACE_MS);
    } catch (err) {
      await conn.close(1000);
      if (err instanceof RpcError && err.kind === "version_mismatch") throw new VersionMismatchError(err.error);
      if (err instanceof SidecarError && err.reason === "exited") {
        const status = err.signal ? `signal ${err.signal}` : `status ${err.exitCode}`;
        throw new SidecarError("exited", `sidecar exited (${status}) before answering hello`, {
          exitCode: err.exitCode,
          signal: err.signal,
          stderr: err.stderr,
        });
      }
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }

  /** The sidecar's handshake answer (protocol version, limits, served methods). */
  get hello(): HelloResult {
    return this.#hello;
  }

  /** The error requests fail with once the sidecar is gone, else null. */
  get closedError(): SidecarError | null {
    return this.#conn.closedError;
  }

  /** Call any wire method with its typed params; resolves with its typed result. */
  call<M extends MethodName>(method: M, params: Methods[M]["params"], options?: CallOptions): Promise<Methods[M]["result"]> {
    return this.#caller.call(method, params, options);
  }

  /** Call a wire method with plain wire JSON (camelCase, base64 bytes); resolves with
   * plain wire JSON. For tooling such as the conformance runner. */
  callRaw(method: string, params: unknown, options?: CallOptions): Promise<unknown> {
    return this.#conn.request(method, params, signalOf(options));
  }

  /** Create a VM and resolve with its handle (`vm.fs.write`, `vm.exec`, `vm.spawn`,
   * `vm.dispose()`); a thin layer over `client.vm.create` and friends. */
  async createVm(config: VmConfig = {}, options?: CallOptions): Promise<Vm> {
    const { vmId } = await this.vm.create({ config }, options);
    const conn = this.#conn;
    const context: HandleContext = {
      vm: this.vm,
      fs: this.fs,
      process: this.process,
      listen: (listener) => conn.onEvent((wire, hold) => listener(eventFromWire(wire) as Event, hold)),
      onClose: (listener) => conn.onClose(listener),
    };
    return new Vm(context, vmId);
  }

  /** Call `listener` for every event of type `type`. Returns an unsubscribe function. */
  on<T extends EventType>(type: T, listener: (event: EventOf<T>) => void): () => void {
    return this.onEvent((event) => {
      if (event.type === type) listener(event as EventOf<T>);
    });
  }

  /** Call `listener` for every event. Returns an unsubscribe function. */
  onEvent(listener: (event: Event) => void): () => void {
    return this.#conn.onEvent((wire) => listener(eventFromWire(wire) as Event));
  }

  /**
   * Every event from now on, as an async iterator (`for await (const e of client.events())`).
   * Subscribe before starting the work whose events you want: nothing is replayed. The
   * iteration ends when the client closes, when `signal` aborts, or on `break`. An
   * iterator read slowly holds back only the output of the processes it watches (each
   * event is acknowledged to the sidecar when the iterator hands it out), never the
   * connection: other calls keep being answered.
   */
  events(options: { signal?: AbortSignal } = {}): EventStream {
    return new EventStream(this.#conn, options.signal);
  }

  /** Answer requests the sidecar sends to the client (`method`) with `handler`; null
   * removes it. Requests without a handler get a `method_not_found` error. The
   * requests the protocol defines (`ClientRequests`, e.g. `session.requestPermission`
   * for sessions whose permission policy is "ask", `tools.invoke`) get typed params
   * and results; `signal` aborts when the sidecar cancels the request. */
  onRequest<M extends keyof ClientRequests>(
    method: M,
    handler: ((params: ClientRequests[M]["params"], signal: AbortSignal) => ClientRequests[M]["result"] | Promise<ClientRequests[M]["result"]>) | null,
  ): void;
  onRequest(method: string, handler: RequestHandler | null): void;
  onRequest(method: string, handler: RequestHandler | null): void {
    this.#conn.setRequestHandler(method, handler as RequestHandler | null);
  }

  /**
   * Answer calls of host tool `name` (registered with `tools.register`) with
   * `handler(input, { vmId, signal })`: `input` is the validated JSON input, the
   * resolved value the output (checked against the tool's output schema by the
   * sidecar). `signal` aborts when the guest cancels the call or it times out.
   * null removes the handler.
   */
  onTool(name: string, handler: ToolHandler | null): void {
    if (handler) this.#tools.set(name, handler);
    else this.#tools.delete(name);
    this.onRequest(
      "tools.invoke",
      this.#tools.size === 0
        ? null
        : async (params, signal) => {
            const tool = this.#tools.get(params.name);
            if (!tool) {
              throw new RpcError({ code: -32601, message: `no handler for tool ${JSON.stringify(params.name)}`, data: { kind: "method_not_found" } });
            }
            // the schema's "any" comes out as an object type; the sidecar checks the output
            return { output: (await tool(params.input, { vmId: params.vmId, signal })) as ClientRequests["tools.invoke"]["result"]["output"] };
          },
    );
  }

  /** Close the sidecar's stdin (it disposes every VM and exits) and wait for it; pending
   * requests reject with `SidecarError("exited")`. Idempotent. */
  close(): Promise<void> {
    return this.#conn.close(this.#shutdownGraceMs);
  }

  /** `await using client = await Client.connect()` closes the client at scope exit. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

/** Typed requests over `conn`: params to wire JSON (Uint8Array -> base64) and back. */
function typedCaller(conn: Connection): Caller {
  return {
    async call<M extends MethodName>(method: M, params: Methods[M]["params"], options?: CallOptions) {
      const defaults = DEFAULT_PARAMS[method];
      const filled = defaults ? withDefaults(defaults, params as Record<string, unknown>) : params;
      const result = await conn.request(method, paramsToWire(method, filled), signalOf(options));
      return resultFromWire(method, result) as Methods[M]["result"];
    },
  };
}

function withDefaults(defaults: Record<string, unknown>, params: Record<string, unknown>): Record<string, unknown> {
  const out = { ...params };
  for (const [key, value] of Object.entries(defaults)) if (out[key] === undefined) out[key] = value;
  return out;
}

function signalOf(options?: CallOptions): AbortSignal | undefined {
  const signals: AbortSignal[] = [];
  if (options?.signal) signals.push(options.signal);
  if (options?.timeoutMs !== undefined) signals.push(AbortSignal.timeout(options.timeoutMs));
  if (signals.length <= 1) return signals[0];
  return AbortSignal.any(signals);
}

/** An async iterator over events; see `Client.events`. */
export class EventStream implements AsyncIterableIterator<Event> {
  // Unbounded here because the sidecar bounds it: output waits for acknowledgements.
  readonly #queue: Array<{ event: Event; release: () => void }> = [];
  #waiter: ((result: IteratorResult<Event>) => void) | null = null;
  #done = false;
  readonly #unsubscribe: Array<() => void> = [];

  constructor(conn: Connection, signal?: AbortSignal) {
    this.#unsubscribe.push(conn.onEvent((wire, hold) => this.#push(eventFromWire(wire) as Event, hold)));
    this.#unsubscribe.push(conn.onClose(() => this.#finish()));
    if (signal) {
      const onAbort = (): void => void this.return();
      if (signal.aborted) onAbort();
      signal.addEventListener("abort", onAbort, { once: true });
      this.#unsubscribe.push(() => signal.removeEventListener("abort", onAbort));
    }
  }

  #push(event: Event, hold: HoldEvent): void {
    if (this.#done) return;
    if (this.#waiter) {
      const waiter = this.#waiter;
      this.#waiter = null;
      waiter({ value: event, done: false });
      return;
    }
    this.#queue.push({ event, release: hold() });
  }

  #finish(): void {
    if (this.#done) return;
    this.#done = true;
    for (const unsubscribe of this.#unsubscribe.splice(0)) unsubscribe();
    if (this.#waiter) {
      const waiter = this.#waiter;
      this.#waiter = null;
      waiter({ value: undefined, done: true });
    }
  }

  next(): Promise<IteratorResult<Event>> {
    const queued = this.#queue.shift();
    if (queued !== undefined) {
      queued.release();
      return Promise.resolve({ value: queued.event, done: false });
    }
    if (this.#done) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve) => (this.#waiter = resolve));
  }

  /** Stop receiving events (what `break` in `for await` calls). */
  return(): Promise<IteratorResult<Event>> {
    for (const queued of this.#queue.splice(0)) queued.release();
    this.#finish();
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<Event> {
    return this;
  }
}
