// The seam between the generated namespace classes and the connection: a namespace
// method only needs something that can `call` a wire method with typed params.

import type { MethodName, Methods } from "./generated/protocol.js";

/** Per-call options. */
export interface CallOptions {
  /** Abandon the request: the promise rejects with `RequestAbortedError` ("aborted",
   * `cause` = `signal.reason`) and the sidecar is sent `$/cancelRequest`, so it stops the work. */
  signal?: AbortSignal;
  /** Abandon the request after this long: rejects with `RequestAbortedError` ("timeout"). */
  timeoutMs?: number;
}

/** Anything that can send one typed request (the `Client`). */
export interface Caller {
  call<M extends MethodName>(method: M, params: Methods[M]["params"], options?: CallOptions): Promise<Methods[M]["result"]>;
}
