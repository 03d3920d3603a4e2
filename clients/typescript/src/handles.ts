// VM and process handles: `const vm = await client.createVm(); await vm.exec("ls")`.
//
// Thin sugar over the flat namespaces (the twin of clients/python/agentvm/_handles.py):
// a handle remembers its `vmId`/`pid` and each method is one flat call. What handles
// add is process output that cannot be missed: `vm.spawn` starts listening to the VM's
// process events *before* it sends `process.spawn` and keeps them until the pid is
// known, so output that arrives before the spawn answer reaches the process (a
// listener filtering by the returned pid would have dropped it).

import { open } from "node:fs/promises";

import type { HoldEvent } from "./connection.js";
import { AgentVmError, type SidecarError } from "./errors.js";
import type {
  Event,
  FsApi,
  FsDirEntry,
  ProcessApi,
  ProcessExecResult,
  ProcessExitEvent,
  ProcessOutputEvent,
  ProcessWaitResult,
  VmApi,
  VmInfo,
} from "./generated/protocol.js";

/** Bytes, or a string sent as its UTF-8 encoding. */
export type BytesOrText = Uint8Array | string;

/** Called with each chunk of one stream's output, in order. */
export type OutputCallback = (data: Uint8Array) => void;

/** A signal name such as `"SIGTERM"` or `"SIGKILL"`. */
export type SignalName = NonNullable<ProcessWaitResult["signal"]>;

/** What a handle needs from its client (the flat namespaces and the event stream). */
export interface HandleContext {
  vm: VmApi;
  fs: FsApi;
  process: ProcessApi;
  /** Every event, with `hold` for flow control; returns an unsubscribe function. */
  listen(listener: (event: Event, hold: HoldEvent) => void): () => void;
  /** Called once when the connection becomes unusable. */
  onClose(listener: (error: SidecarError) => void): () => void;
}

/** Options of `vm.exec`. */
export interface ExecOptions {
  /** Abandon the request (the process is killed); see `CallOptions.signal`. */
  signal?: AbortSignal;
  cwd?: string;
  env?: Record<string, string>;
  stdin?: BytesOrText;
  /** Kill the process after this long (default 5 minutes; `null` waits as long as it takes). */
  timeoutMs?: number | null;
  /** Bytes kept of each of stdout and stderr (default 16 MiB); `truncated` says more came. */
  maxOutputBytes?: number;
}

/** Options of `vm.spawn`. */
export interface SpawnProcessOptions {
  cwd?: string;
  env?: Record<string, string>;
  /** Receives stdout from its first byte; with a callback the output is not iterable. */
  onStdout?: OutputCallback;
  /** Receives stderr from its first byte. */
  onStderr?: OutputCallback;
}

const encoder = new TextEncoder();

/** Bytes per request when `vm.fs.upload` / `download` stream a file. */
export const DEFAULT_CHUNK_BYTES = 4 * 1024 * 1024;

/** `data` as bytes: a string is encoded as UTF-8; anything else is a TypeError. */
export function toBytes(data: BytesOrText, what = "data"): Uint8Array {
  if (data instanceof Uint8Array) return data;
  if (typeof data === "string") return encoder.encode(data);
  throw new TypeError(`${what}: expected a Uint8Array or a string (sent as UTF-8), got ${typeof data}`);
}

/** `command` as the wire's `command` (a string, run by `sh -c`) or `argv` (an array). */
function program(command: string | readonly string[]): { command: string } | { argv: [string, ...string[]] } {
  // An empty argv is the sidecar's invalid_params to report.
  return typeof command === "string" ? { command } : { argv: [...command] as [string, ...string[]] };
}

/** `vm.fs`: the VM's files; each method is one `client.fs.*` call. */
export class VmFs {
  readonly #ctx: HandleContext;
  readonly #vmId: string;

  constructor(ctx: HandleContext, vmId: string) {
    this.#ctx = ctx;
    this.#vmId = vmId;
  }

  /** Create or replace a file, making missing parent directories unless `createDirs: false`. */
  async write(path: string, data: BytesOrText, options: { createDirs?: boolean; mode?: number } = {}): Promise<void> {
    const bytes = toBytes(data);
    await this.#ctx.fs.writeFile({ vmId: this.#vmId, path, data: bytes, createDirs: options.createDirs ?? true, mode: options.mode });
  }

  /** A whole file's bytes. */
  async read(path: string): Promise<Uint8Array> {
    return (await this.#ctx.fs.readFile({ vmId: this.#vmId, path })).data;
  }

  /** Whether `path` exists. */
  async exists(path: string): Promise<boolean> {
    return (await this.#ctx.fs.exists({ vmId: this.#vmId, path })).exists;
  }

  /** Create a directory (with its parents unless `recursive: false`). */
  async mkdir(path: string, options: { recursive?: boolean } = {}): Promise<void> {
    await this.#ctx.fs.mkdir({ vmId: this.#vmId, path, recursive: options.recursive ?? true });
  }

  /** A directory's entries. */
  async list(path: string): Promise<FsDirEntry[]> {
    return (await this.#ctx.fs.readdir({ vmId: this.#vmId, path })).entries;
  }

  /** Delete a file or empty directory (a tree with `recursive`). */
  async delete(path: string, options: { recursive?: boolean } = {}): Promise<void> {
    await this.#ctx.fs.delete({ vmId: this.#vmId, path, recursive: options.recursive ?? false });
  }

  /** Copy a host file of any size into the VM, `chunkBytes` per request (the first
   * replaces `vmPath`, making its parents; the rest append), so neither side holds
   * more than a chunk. Resolves with the bytes copied. */
  async upload(localPath: string, vmPath: string, options: { chunkBytes?: number } = {}): Promise<number> {
    const chunkBytes = options.chunkBytes ?? DEFAULT_CHUNK_BYTES;
    const source = await open(localPath, "r");
    try {
      let total = 0;
      for (;;) {
        const buffer = new Uint8Array(chunkBytes);
        const { bytesRead } = await source.read(buffer, 0, chunkBytes, null);
        if (total > 0 && bytesRead === 0) return total;
        const data = buffer.subarray(0, bytesRead);
        await this.#ctx.fs.writeFile({ vmId: this.#vmId, path: vmPath, data, createDirs: total === 0, append: total > 0 });
        total += bytesRead;
        if (bytesRead === 0) return total; // an empty file: created, nothing more to send
      }
    } finally {
      await source.close();
    }
  }

  /** Copy a VM file of any size to the host, `chunkBytes` per request, until the size
   * the VM reported. Resolves with the bytes copied. */
  async download(vmPath: string, localPath: string, options: { chunkBytes?: number } = {}): Promise<number> {
    const chunkBytes = options.chunkBytes ?? DEFAULT_CHUNK_BYTES;
    const target = await open(localPath, "w");
    try {
      let offset = 0;
      for (;;) {
        const piece = await this.#ctx.fs.readFile({ vmId: this.#vmId, path: vmPath, offset, length: chunkBytes });
        await target.write(piece.data);
        offset += piece.data.length;
        if (piece.data.length === 0 || offset >= (piece.size ?? 0)) return offset;
      }
    } finally {
      await target.close();
    }
  }
}

type ProcessEvent = ProcessOutputEvent | ProcessExitEvent;

function isProcessEventOf(event: Event, vmId: string): event is ProcessEvent {
  return (event.type === "process.output" || event.type === "process.exit") && event.vmId === vmId;
}

/**
 * A process started by `vm.spawn`. Its output goes to the `onStdout`/`onStderr`
 * callbacks, or, without callbacks, to iterating it (`for await (const chunk of proc)`:
 * `ProcessOutputEvent`s in order, ending at exit). `wait()` resolves with the exit
 * status (dropping output nobody iterated). An iterator read slowly slows this process only.
 */
export class VmProcess implements AsyncIterable<ProcessOutputEvent> {
  readonly vmId: string;
  readonly pid: number;
  readonly #ctx: HandleContext;
  readonly #queue: Array<{ event: ProcessOutputEvent; release: () => void }> = [];
  readonly #callbacks: { stdout?: OutputCallback; stderr?: OutputCallback };
  #waiter: (() => void) | null = null;
  #exit: ProcessWaitResult | null = null;
  #failure: Error | null = null;
  #stop: () => void;

  /** @internal Made by `Vm.spawn`, which has already buffered the process's first events. */
  constructor(ctx: HandleContext, vmId: string, pid: number, callbacks: SpawnProcessOptions, stop: () => void) {
    this.#ctx = ctx;
    this.vmId = vmId;
    this.pid = pid;
    this.#callbacks = { stdout: callbacks.onStdout, stderr: callbacks.onStderr };
    this.#stop = stop;
  }

  /** @internal Feed one event of this process (in order). */
  deliver(event: ProcessEvent, hold: HoldEvent): void {
    if (this.#exit || this.#failure) return;
    if (event.type === "process.exit") {
      this.#exit = { exitCode: event.exitCode, signal: event.signal ?? null };
      this.#finish();
      return;
    }
    const callback = this.#callbacks[event.stream];
    if (this.#hasCallbacks) {
      if (callback) callback(event.data);
      return;
    }
    this.#queue.push({ event, release: hold() });
    this.#wake();
  }

  /** @internal The connection went away before the process exited. */
  fail(error: Error): void {
    if (this.#exit || this.#failure) return;
    this.#failure = error;
    this.#finish();
  }

  get #hasCallbacks(): boolean {
    return this.#callbacks.stdout !== undefined || this.#callbacks.stderr !== undefined;
  }

  #finish(): void {
    this.#stop();
    this.#wake();
  }

  #wake(): void {
    const waiter = this.#waiter;
    this.#waiter = null;
    waiter?.();
  }

  /** How the process ended, once its exit has been seen (else null). */
  get exit(): ProcessWaitResult | null {
    return this.#exit;
  }

  async *[Symbol.asyncIterator](): AsyncIterator<ProcessOutputEvent> {
    if (this.#hasCallbacks) throw new AgentVmError("this process's output goes to its onStdout/onStderr callbacks");
    for (;;) {
      const next = this.#queue.shift();
      if (next) {
        next.release();
        yield next.event;
        continue;
      }
      if (this.#failure) throw this.#failure;
      if (this.#exit) return;
      await new Promise<void>((resolve) => (this.#waiter = resolve));
    }
  }

  /** Resolve with the exit status once the process exits.
   * @throws SidecarError when the sidecar goes away first. */
  async wait(): Promise<ProcessWaitResult> {
    for (;;) {
      for (const queued of this.#queue.splice(0)) queued.release();
      if (this.#failure) throw this.#failure;
      if (this.#exit) return this.#exit;
      await new Promise<void>((resolve) => (this.#waiter = resolve));
    }
  }

  /** Send `signal` (default SIGTERM) to the process and everything it started. */
  async kill(signal: SignalName = "SIGTERM"): Promise<void> {
    await this.#ctx.process.kill({ vmId: this.vmId, pid: this.pid, signal });
  }

  /** Write to its stdin (bytes, or a string as UTF-8); waits while the pipe is full. */
  async writeStdin(data: BytesOrText): Promise<void> {
    await this.#ctx.process.writeStdin({ vmId: this.vmId, pid: this.pid, data: toBytes(data) });
  }

  /** Close its stdin; it reads end of file. */
  async closeStdin(): Promise<void> {
    await this.#ctx.process.closeStdin({ vmId: this.vmId, pid: this.pid });
  }
}

/** A VM made by `client.createVm`; `dispose()` ends it. */
export class Vm {
  readonly vmId: string;
  /** The VM's files. */
  readonly fs: VmFs;
  readonly #ctx: HandleContext;
  #disposed = false;

  constructor(ctx: HandleContext, vmId: string) {
    this.#ctx = ctx;
    this.vmId = vmId;
    this.fs = new VmFs(ctx, vmId);
  }

  /** Run `command` (a string, by `sh -c`) or an argv array to completion. */
  exec(command: string | readonly string[], options: ExecOptions = {}): Promise<ProcessExecResult> {
    const { cwd, env, stdin, timeoutMs, maxOutputBytes, signal } = options;
    return this.#ctx.process.exec(
      {
        vmId: this.vmId,
        ...program(command),
        cwd,
        env,
        stdin: stdin === undefined ? undefined : toBytes(stdin, "stdin"),
        timeoutMs,
        maxOutputBytes,
      },
      { signal },
    );
  }

  /** Start `command` (string or argv) and resolve with its handle once it runs; its
   * output from the first byte goes to the callbacks, or to iterating the handle. */
  async spawn(command: string | readonly string[], options: SpawnProcessOptions = {}): Promise<VmProcess> {
    // Listen before asking, keep this VM's process events until the pid is known.
    let proc: VmProcess | null = null;
    const early: Array<{ event: ProcessEvent; release: () => void; hold: HoldEvent }> = [];
    const stopListening = this.#ctx.listen((event, hold) => {
      if (!isProcessEventOf(event, this.vmId)) return;
      if (proc) {
        if (event.pid === proc.pid) proc.deliver(event, hold);
      } else {
        early.push({ event, release: hold(), hold });
      }
    });
    const stopClose = this.#ctx.onClose((error) => proc?.fail(error));
    const stop = (): void => {
      stopListening();
      stopClose();
    };
    let pid: number;
    try {
      ({ pid } = await this.#ctx.process.spawn({ vmId: this.vmId, ...program(command), cwd: options.cwd, env: options.env }));
    } catch (err) {
      stop();
      for (const e of early) e.release();
      throw err;
    }
    proc = new VmProcess(this.#ctx, this.vmId, pid, options, stop);
    for (const { event, release, hold } of early) {
      if (event.pid === pid) proc.deliver(event, hold);
      release();
    }
    return proc;
  }

  /** Limits, mounts and resource usage. */
  async info(): Promise<VmInfo> {
    return (await this.#ctx.vm.info({ vmId: this.vmId })).info;
  }

  /** Dispose the VM (its processes are killed). Idempotent. */
  async dispose(): Promise<void> {
    if (this.#disposed) return;
    this.#disposed = true;
    await this.#ctx.vm.dispose({ vmId: this.vmId });
  }

  /** `await using vm = await client.createVm()` disposes it at scope exit. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.dispose();
  }
}
