// agentvm TypeScript client: spawn `agentvm-sidecar --stdio` and drive VMs over JSON-RPC.
// Same surface as the Python client (clients/python/agentvm): namespaces per wire
// namespace, typed params and results generated from schemas/, events, handlers for
// sidecar -> client requests, typed errors.

export { Client, DEFAULT_EXEC_TIMEOUT_MS, EventStream, type ConnectOptions, type EventOf, type ToolHandler } from "./client.js";
export {
  DEFAULT_CHUNK_BYTES,
  Vm,
  VmFs,
  VmProcess,
  toBytes,
  type BytesOrText,
  type ExecOptions,
  type OutputCallback,
  type SignalName,
  type SpawnProcessOptions,
} from "./handles.js";
export type { CallOptions, Caller } from "./caller.js";
export {
  CANCEL_METHOD,
  EVENT_METHOD,
  SIDECAR_HINT,
  defaultSidecarCommand,
  type RequestHandler,
  type SpawnOptions,
} from "./connection.js";
export {
  AgentVmError,
  RequestAbortedError,
  RpcError,
  SidecarError,
  VersionMismatchError,
  type AbortReason,
  type ErrorObject,
  type SidecarErrorReason,
} from "./errors.js";
export { shellSplit } from "./shell.js";
export * from "./generated/protocol.js";
