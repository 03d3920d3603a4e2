// Client-side errors, mirroring the Python client's (clients/python/agentvm/_errors.py).
//
// `RpcError` is a wire error returned by the sidecar: branch on `kind` and `errno`, never
// on the message. `SidecarError` means the sidecar itself is unusable: it failed to start,
// exited, broke the protocol or did not answer the handshake in time. Neither is ever
// replaced by a hang: when the sidecar's output ends, every pending request rejects.

import type { ErrorData, ErrorKind } from "./generated/protocol.js";

/** A JSON-RPC 2.0 error object as the sidecar sends it. */
export interface ErrorObject {
  code: number;
  message: string;
  data?: ErrorData | null;
}

/** Base of every error this client throws. */
export class AgentVmError extends Error {
  override name = "AgentVmError";
}

/** The sidecar answered a request with an error. */
export class RpcError extends AgentVmError {
  override name = "RpcError";
  /** Stable error kind (`not_found`, `invalid_params`, `limit_exceeded`...). */
  readonly kind: ErrorKind;
  /** POSIX errno name for kernel errors (`ENOENT`...), else null. */
  readonly errno: string | null;
  /** The VM path the error concerns, when known. */
  readonly path: string | null;
  /** JSON-RPC error code. */
  readonly code: number;
  /** The error object exactly as received. */
  readonly error: ErrorObject;

  constructor(error: ErrorObject) {
    super(error.message);
    this.error = error;
    this.code = error.code;
    this.kind = error.data?.kind ?? "internal";
    this.errno = error.data?.errno ?? null;
    this.path = error.data?.path ?? null;
  }
}

/** The sidecar speaks another protocol version; nothing else will be served. */
export class VersionMismatchError extends RpcError {
  override name = "VersionMismatchError";
  /** The version the sidecar speaks, when it said. */
  readonly expectedVersion: number | null;
  /** The version this client sent. */
  readonly receivedVersion: number | null;

  constructor(error: ErrorObject) {
    super(error);
    this.expectedVersion = error.data?.expectedVersion ?? null;
    this.receivedVersion = error.data?.receivedVersion ?? null;
  }
}

/** Why the sidecar is unusable. */
export type SidecarErrorReason = "failed_to_start" | "exited" | "protocol_error" | "timeout";

/** The sidecar process could not be started, exited, broke the protocol or timed out. */
export class SidecarError extends AgentVmError {
  override name = "SidecarError";
  /** `failed_to_start`, `exited`, `protocol_error` or `timeout` (handshake not answered). */
  readonly reason: SidecarErrorReason;
  /** The sidecar's exit status when it exited, else null. */
  readonly exitCode: number | null;
  /** The signal that ended the sidecar, else null. */
  readonly signal: NodeJS.Signals | null;
  /** The end of the sidecar's stderr, when `stderr: "pipe"` was used. */
  readonly stderr: string;

  constructor(
    reason: SidecarErrorReason,
    message: string,
    details: { exitCode?: number | null; signal?: NodeJS.Signals | null; stderr?: string; cause?: unknown } = {},
  ) {
    const stderr = details.stderr ?? "";
    super(stderr ? `${message}\n--- sidecar stderr (tail) ---\n${stderr}` : message, { cause: details.cause });
    this.reason = reason;
    this.exitCode = details.exitCode ?? null;
    this.signal = details.signal ?? null;
    this.stderr = stderr;
  }
}

/** Why a request was abandoned by the client. */
export type AbortReason = "timeout" | "aborted";

/** A request was abandoned by the client before the sidecar answered: its per-call
 * `timeoutMs` passed (`reason` "timeout") or its `signal` aborted ("aborted"; the
 * signal's reason is the `cause`). The sidecar was sent `$/cancelRequest`. */
export class RequestAbortedError extends AgentVmError {
  override name = "RequestAbortedError";
  readonly reason: AbortReason;

  constructor(reason: AbortReason, message: string, cause?: unknown) {
    super(message, { cause });
    this.reason = reason;
  }
}

/** The error a request rejects with when `signal` aborts it. */
export function abortError(method: string, signal: AbortSignal): RequestAbortedError {
  const cause: unknown = signal.reason;
  const timedOut = cause instanceof Error && cause.name === "TimeoutError";
  return timedOut
    ? new RequestAbortedError("timeout", `${method} timed out (timeoutMs)`, cause)
    : new RequestAbortedError("aborted", `${method} was aborted`, cause);
}
