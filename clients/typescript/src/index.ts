// agentvm TypeScript client: spawn `agentvm-sidecar --stdio` and drive VMs over JSON-RPC.
// Same surface as the Python client (clients/python/agentvm): namespaces per wire
// namespace, typed params and results generated from schemas/, events, handlers for
// sidecar -> client requests, typed errors.

export { Client, EventStream, type ConnectOptions, type EventOf, type ToolHandler } from "./client.js";
export type { CallOptions, Caller } from "./caller.js";
export { CANCEL_METHOD, EVENT_METHOD, defaultSidecarCommand, type RequestHandler, type SpawnOptions } from "./connection.js";
export {
  AgentVmError,
  RpcError,
  SidecarError,
  VersionMismatchError,
  type ErrorObject,
  type SidecarErrorReason,
} from "./errors.js";
export { shellSplit } from "./shell.js";
export * from "./generated/protocol.js";
