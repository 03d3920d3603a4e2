// One sidecar subprocess and one JSON-RPC 2.0 connection over its stdio (NDJSON).
//
// The TypeScript twin of clients/python/agentvm/_connection.py. The stdout reader
// resolves pending requests by id, fans `event` notifications out to listeners, and
// answers requests the sidecar makes of the client with registered handlers. Wire JSON
// only: typed params/results and base64 conversion live in client.ts.
//
// Output flow control: the sidecar sends at most a window of `process.output` bytes per
// process until the client acknowledges them with `process.ackOutput` (see the
// protocol's ProcessSpawnParams). An event is acknowledged once every listener that
// held it released it (`onEvent`'s `hold`), or at once when nobody holds it, so a slow
// consumer holds back only its own processes; this reader never stops reading stdout.
//
// Never a hang: when the sidecar's stdout ends or the process exits, every pending
// request rejects with `SidecarError("exited")`; a line that is not JSON-RPC, or an
// error the sidecar could not address to a request, breaks the connection with
// `SidecarError("protocol_error")` (a broken connection stays broken, as in h11); the
// handshake has a deadline (`SidecarError("timeout")`); a frame larger than the
// sidecar's `maxFrameBytes` is refused locally (the sidecar could not name its id).

import { spawn, type ChildProcess } from "node:child_process";

import { RpcError, SidecarError, abortError, type ErrorObject } from "./errors.js";
import { FrameTooLargeError, LineSplitter } from "./framing.js";
import { shellSplit } from "./shell.js";

/** JSON-RPC notification the client sends to abandon one of its requests. */
export const CANCEL_METHOD = "$/cancelRequest";
/** JSON-RPC notification the sidecar sends for streamed data. */
export const EVENT_METHOD = "event";
/** Method the client sends (as a notification) to return output credit. */
export const ACK_OUTPUT_METHOD = "process.ackOutput";

/** Passed to event listeners: call it to keep an event unacknowledged until the
 * returned `release` is called (when the event was handed to its consumer). */
export type HoldEvent = () => () => void;

const DEFAULT_MAX_FRAME_BYTES = 64 * 1024 * 1024; // until hello says otherwise
const STDERR_TAIL_BYTES = 8192;
const EXIT_WAIT_MS = 1000;

/** Answers one sidecar -> client request; the resolved value is the JSON result. Throw
 * an `RpcError` to send a specific error; anything else becomes kind `internal`. */
/** Answers one sidecar -> client request; `signal` aborts when the sidecar cancels it
 * (`$/cancelRequest`), and the request is then answered `cancelled`. */
export type RequestHandler = (params: unknown, signal: AbortSignal) => unknown | Promise<unknown>;

/** How to start the sidecar. */
export interface SpawnOptions {
  /** argv of the sidecar; default `$AGENTVM_SIDECAR` (shell-split) or `agentvm-sidecar --stdio`. */
  command?: readonly string[];
  /** Environment of the sidecar (default: this process's). */
  env?: NodeJS.ProcessEnv;
  /** The sidecar's stderr (structured logs): inherit (default), ignore, or pipe — kept as
   * a tail and quoted in `SidecarError`s, handy when it fails to start. */
  stderr?: "inherit" | "ignore" | "pipe";
}

/** How to get a sidecar, quoted when none can be started. */
export const SIDECAR_HINT =
  "install the Python package (`pip install <agentvm checkout or wheel>`) and run `agentvm-sidecar setup` once, " +
  'then put agentvm-sidecar on PATH or set $AGENTVM_SIDECAR (e.g. AGENTVM_SIDECAR="/path/to/venv/bin/agentvm-sidecar --stdio")';

/** `$AGENTVM_SIDECAR` (shell-split, as the Python client does) or `agentvm-sidecar --stdio`. */
export function defaultSidecarCommand(env: NodeJS.ProcessEnv = process.env): string[] {
  const override = env.AGENTVM_SIDECAR;
  if (override && override.trim()) return shellSplit(override);
  return ["agentvm-sidecar", "--stdio"];
}

interface Pending {
  resolve(result: unknown): void;
  reject(error: unknown): void;
}

type JsonObject = Record<string, unknown>;

/** A live connection to one sidecar process. Create with `Connection.spawn`. */
export class Connection {
  readonly #child: ChildProcess;
  readonly #argv: readonly string[];
  readonly #splitter = new LineSplitter(DEFAULT_MAX_FRAME_BYTES);
  readonly #pending = new Map<number, Pending>();
  readonly #eventListeners = new Set<(event: unknown, hold: HoldEvent) => void>();
  readonly #closeListeners = new Set<(error: SidecarError) => void>();
  readonly #handlers = new Map<string, RequestHandler>();
  readonly #answering = new Map<number | string, AbortController>();
  readonly #acks = new Map<string, { vmId: string; pid: number; consumed: number }>();
  #acksScheduled = false;
  #nextId = 1;
  #closed: SidecarError | null = null;
  #exit: { code: number | null; signal: NodeJS.Signals | null } | null = null;
  #exited: Promise<void>;
  #stderrTail = "";
  #closing: Promise<void> | null = null;
  /** The largest line the sidecar accepts (from `hello`). */
  maxFrameBytes = DEFAULT_MAX_FRAME_BYTES;

  private constructor(child: ChildProcess, argv: readonly string[]) {
    this.#child = child;
    this.#argv = argv;
    this.#exited = new Promise((resolve) => {
      child.once("exit", (code, signal) => {
        this.#exit = { code, signal };
        resolve();
        // stdout normally ends first or together; if a grandchild holds it open, do not wait.
        setTimeout(() => this.#fail(this.#exitedError("sidecar exited")), EXIT_WAIT_MS).unref();
      });
    });
    child.stdout!.on("data", (chunk: Buffer) => this.#onData(chunk));
    child.stdout!.once("end", () => void this.#onOutputEnd());
    child.stdout!.once("error", () => void this.#onOutputEnd());
    child.stdin!.on("error", () => {
      // EPIPE after the sidecar died; the exit path reports it.
    });
    child.stderr?.on("data", (chunk: Buffer) => {
      this.#stderrTail = (this.#stderrTail + chunk.toString("utf8")).slice(-STDERR_TAIL_BYTES);
    });
  }

  /** Start the sidecar. Resolves once the process is running (not yet handshaken).
   * @throws SidecarError `failed_to_start` when the command cannot be executed. */
  static async spawn(options: SpawnOptions = {}): Promise<Connection> {
    const argv = [...(options.command ?? defaultSidecarCommand(options.env ?? process.env))];
    if (argv.length === 0) throw new SidecarError("failed_to_start", "empty sidecar command");
    const child = spawn(argv[0]!, argv.slice(1), {
      stdio: ["pipe", "pipe", options.stderr ?? "inherit"],
      env: options.env ?? process.env,
    });
    await new Promise<void>((resolve, reject) => {
      child.once("spawn", () => resolve());
      child.once("error", (err) =>
        reject(
          new SidecarError("failed_to_start", `cannot start sidecar ${JSON.stringify(argv[0])}: ${err.message}; ${SIDECAR_HINT}`, {
            cause: err,
          }),
        ),
      );
    });
    child.on("error", () => {
      // Later errors (a failed kill) surface through exit handling.
    });
    return new Connection(child, argv);
  }

  /** The argv the sidecar was started with. */
  get argv(): readonly string[] {
    return this.#argv;
  }

  /** The error every request fails with from now on, or null while the connection is usable. */
  get closedError(): SidecarError | null {
    return this.#closed;
  }

  /** Send one request; resolves with the wire result, rejects with `RpcError`,
   * `SidecarError`, or `RequestAbortedError` when `signal` aborts it. */
  request(method: string, params: unknown, signal?: AbortSignal): Promise<unknown> {
    if (this.#closed) return Promise.reject(this.#closed);
    if (signal?.aborted) return Promise.reject(abortError(method, signal));
    const id = this.#nextId++;
    const line = JSON.stringify({ jsonrpc: "2.0", id, method, params: params ?? {} }) + "\n";
    const tooLarge = this.#frameTooLarge(line);
    if (tooLarge) return Promise.reject(tooLarge);
    return new Promise((resolve, reject) => {
      const onAbort = (): void => {
        if (!this.#pending.delete(id)) return;
        this.#write(JSON.stringify({ jsonrpc: "2.0", method: CANCEL_METHOD, params: { id } }) + "\n");
        reject(abortError(method, signal!));
      };
      const done = (): void => signal?.removeEventListener("abort", onAbort);
      this.#pending.set(id, {
        resolve: (r) => (done(), resolve(r)),
        reject: (e) => (done(), reject(e)),
      });
      signal?.addEventListener("abort", onAbort, { once: true });
      this.#write(line);
    });
  }

  /** Call `listener` with every `event` notification's params (wire JSON); a listener
   * that consumes the event later calls `hold()` and then the returned release.
   * Returns an unsubscribe function. */
  onEvent(listener: (event: unknown, hold: HoldEvent) => void): () => void {
    this.#eventListeners.add(listener);
    return () => void this.#eventListeners.delete(listener);
  }

  /** Call `listener` once when the connection becomes unusable. */
  onClose(listener: (error: SidecarError) => void): () => void {
    if (this.#closed) {
      queueMicrotask(() => listener(this.#closed!));
      return () => {};
    }
    this.#closeListeners.add(listener);
    return () => void this.#closeListeners.delete(listener);
  }

  /** Answer sidecar -> client requests for `method` with `handler` (null removes it). */
  setRequestHandler(method: string, handler: RequestHandler | null): void {
    if (handler) this.#handlers.set(method, handler);
    else this.#handlers.delete(method);
  }

  /** Fail everything and kill the sidecar at once (used when the handshake fails). */
  abort(error: SidecarError): void {
    this.#fail(error);
    this.#child.kill("SIGKILL");
  }

  /** Close the sidecar's stdin (it disposes every VM and exits) and wait for it to exit;
   * after `graceMs` it is killed. Idempotent. */
  close(graceMs: number): Promise<void> {
    this.#closing ??= (async () => {
      this.#child.stdin!.end();
      let timer: NodeJS.Timeout | undefined;
      const timedOut = await Promise.race([
        this.#exited.then(() => false),
        new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), graceMs))),
      ]);
      clearTimeout(timer);
      if (timedOut) {
        this.#child.kill("SIGKILL");
        await this.#exited;
      }
      this.#fail(new SidecarError("exited", "client is closed", { exitCode: this.#exit?.code, signal: this.#exit?.signal }));
    })();
    return this.#closing;
  }

  #frameTooLarge(line: string): RpcError | null {
    const size = Buffer.byteLength(line) - 1;
    if (size <= this.maxFrameBytes) return null;
    return new RpcError({
      code: -32001,
      message: `request of ${size} bytes exceeds the sidecar's maxFrameBytes (${this.maxFrameBytes})`,
      data: { kind: "frame_too_large" },
    });
  }

  #write(line: string): void {
    const stdin = this.#child.stdin!;
    if (!stdin.destroyed && !stdin.writableEnded) stdin.write(line);
  }

  #onData(chunk: Buffer): void {
    if (this.#closed) return;
    let lines: Buffer[];
    try {
      lines = this.#splitter.push(chunk);
    } catch (err) {
      if (!(err instanceof FrameTooLargeError)) throw err;
      this.#protocolError(err.message);
      return;
    }
    for (const line of lines) {
      if (this.#closed) return;
      this.#onLine(line);
    }
  }

  #onLine(line: Buffer): void {
    const text = line.toString("utf8");
    if (!text.trim()) return;
    let msg: unknown;
    try {
      msg = JSON.parse(text);
    } catch {
      this.#protocolError(`sidecar sent a line that is not JSON: ${text.slice(0, 200)}`);
      return;
    }
    if (typeof msg !== "object" || msg === null || Array.isArray(msg) || (msg as JsonObject).jsonrpc !== "2.0") {
      this.#protocolError(`sidecar sent a line that is not JSON-RPC 2.0: ${text.slice(0, 200)}`);
      return;
    }
    const m = msg as JsonObject;
    if (typeof m.method === "string") {
      if ("id" in m && (typeof m.id === "number" || typeof m.id === "string")) void this.#answer(m.id, m.method, m.params);
      else if (m.method === EVENT_METHOD) this.#emit(m.params);
      else if (m.method === CANCEL_METHOD) this.#answering.get((m.params as JsonObject | undefined)?.id as number | string)?.abort();
      return;
    }
    if ((typeof m.id === "number" || typeof m.id === "string") && ("result" in m || "error" in m)) {
      const pending = this.#pending.get(m.id as number);
      if (!pending) return; // answered after we abandoned it
      this.#pending.delete(m.id as number);
      if (m.error) pending.reject(new RpcError(m.error as ErrorObject));
      else pending.resolve(m.result ?? null);
      return;
    }
    // An error without an id: the sidecar could not read one of our frames, so some
    // request will never be answered. Fail loudly instead of hanging.
    const error = m.error as ErrorObject | undefined;
    this.#protocolError(`sidecar could not read a request: ${error?.message ?? text.slice(0, 200)}`);
  }

  #emit(params: unknown): void {
    let holds = 1; // the dispatcher's own, released after fan-out
    const release = (): void => {
      if (--holds === 0) this.#acknowledge(params);
    };
    const hold: HoldEvent = () => {
      holds++;
      let released = false;
      return () => {
        if (!released) {
          released = true;
          release();
        }
      };
    };
    for (const listener of [...this.#eventListeners]) {
      try {
        listener(params, hold);
      } catch (err) {
        process.nextTick(() => {
          throw err; // a listener bug surfaces like an EventEmitter listener's would
        });
      }
    }
    release();
  }

  /** Return an output event's bytes to its process's window (coalesced per process). */
  #acknowledge(params: unknown): void {
    const event = params as { type?: string; vmId?: string; pid?: number; data?: string };
    if (event.type !== "process.output" || typeof event.data !== "string") return;
    const key = `${event.vmId}/${event.pid}`;
    const entry = this.#acks.get(key) ?? { vmId: event.vmId!, pid: event.pid!, consumed: 0 };
    entry.consumed += Buffer.byteLength(event.data, "base64");
    this.#acks.set(key, entry);
    if (this.#acksScheduled) return;
    this.#acksScheduled = true;
    setImmediate(() => {
      this.#acksScheduled = false;
      for (const params of this.#acks.values()) {
        if (!this.#closed) this.#write(JSON.stringify({ jsonrpc: "2.0", method: ACK_OUTPUT_METHOD, params }) + "\n");
      }
      this.#acks.clear();
    });
  }

  async #answer(id: number | string, method: string, params: unknown): Promise<void> {
    const handler = this.#handlers.get(method);
    let reply: JsonObject;
    if (!handler) {
      reply = { id, error: { code: -32601, message: `client has no handler for ${JSON.stringify(method)}`, data: { kind: "method_not_found" } } };
    } else {
      const controller = new AbortController();
      this.#answering.set(id, controller);
      try {
        const result = await handler(params, controller.signal);
        reply = { id, result: result ?? null };
      } catch (err) {
        const error: ErrorObject =
          err instanceof RpcError
            ? err.error
            : { code: -32603, message: `client handler failed: ${err instanceof Error ? err.message : String(err)}`, data: { kind: "internal" } };
        reply = { id, error };
      } finally {
        this.#answering.delete(id);
      }
      if (controller.signal.aborted) {
        reply = { id, error: { code: -32800, message: `request ${JSON.stringify(id)} was cancelled`, data: { kind: "cancelled" } } };
      }
    }
    if (!this.#closed) this.#write(JSON.stringify({ jsonrpc: "2.0", ...reply }) + "\n");
  }

  #protocolError(message: string): void {
    this.#fail(new SidecarError("protocol_error", message, { stderr: this.#stderrTail }));
    this.#child.kill("SIGKILL");
  }

  async #onOutputEnd(): Promise<void> {
    if (this.#closed) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.#exited, new Promise((resolve) => (timer = setTimeout(resolve, EXIT_WAIT_MS)))]);
    clearTimeout(timer);
    this.#fail(this.#exitedError("sidecar exited"));
  }

  #exitedError(what: string): SidecarError {
    const exit = this.#exit;
    const status = exit ? (exit.signal ? `signal ${exit.signal}` : `status ${exit.code}`) : "stdout closed";
    const pending = this.#pending.size ? " with requests pending" : "";
    return new SidecarError("exited", `${what} (${status})${pending}`, {
      exitCode: exit?.code,
      signal: exit?.signal,
      stderr: this.#stderrTail,
    });
  }

  #fail(error: SidecarError): void {
    if (this.#closed) return;
    this.#closed = error;
    const pending = [...this.#pending.values()];
    this.#pending.clear();
    for (const p of pending) p.reject(error);
    for (const listener of [...this.#closeListeners]) listener(error);
    this.#closeListeners.clear();
  }
}

