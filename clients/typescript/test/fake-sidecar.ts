// A scripted stand-in for agentvm-sidecar, to make the client's failure paths fire:
// `node fake-sidecar.js <mode>`. It speaks just enough NDJSON JSON-RPC for each mode.

import { createInterface } from "node:readline";

const mode = process.argv[2] ?? "";
const HELLO_RESULT = {
  protocolVersion: 1,
  sidecarVersion: "fake",
  maxFrameBytes: 4096,
  defaultLimits: {},
  methods: ["vm.list"],
};

type Msg = { id?: number | string | null; method?: string; params?: any; result?: unknown; error?: unknown };

const send = (msg: object): void => void process.stdout.write(JSON.stringify({ jsonrpc: "2.0", ...msg }) + "\n");
const received: Msg[] = [];
let clientRequestId = 1000;

function onMessage(msg: Msg): void {
  received.push(msg);
  if (msg.method === "hello") {
    switch (mode) {
      case "silent":
        return;
      case "exit-at-hello":
        process.exit(5);
      case "garbage":
        process.stdout.write("this is not json-rpc\n");
        return;
      case "version-mismatch":
        send({
          id: msg.id,
          error: {
            code: -32003,
            message: `client speaks protocol ${msg.params.protocolVersion}, sidecar speaks 2`,
            data: { kind: "version_mismatch", expectedVersion: 2, receivedVersion: msg.params.protocolVersion },
          },
        });
        return;
      default:
        send({ id: msg.id, result: HELLO_RESULT });
        return;
    }
  }
  if (msg.method === undefined) return; // a response to one of our requests: recorded above
  if (mode === "exit-mid-request") process.exit(3);
  if (msg.method === "test.slow") return; // never answered
  if (msg.method === "test.askClient") {
    send({ id: clientRequestId++, method: "host.echo", params: { text: "ping" } });
    send({ id: clientRequestId++, method: "host.fail", params: {} });
    send({ id: clientRequestId++, method: "host.unknown", params: {} });
    send({ id: msg.id, result: {} });
    return;
  }
  if (msg.method === "test.nullError") {
    send({ id: null, error: { code: -32700, message: "bad frame: cannot parse", data: { kind: "parse_error" } } });
    return;
  }
  if (msg.method === "test.emit") {
    const count: number = msg.params.count;
    for (let i = 0; i < count; i++) {
      send({ method: "event", params: { type: "process.output", vmId: "vm-1", pid: 1, stream: "stdout", data: Buffer.from(`chunk ${i}`).toString("base64") } });
    }
    send({ method: "event", params: { type: "process.exit", vmId: "vm-1", pid: 1, exitCode: 0 } });
    send({ id: msg.id, result: {} });
    return;
  }
  if (msg.method === "test.report") {
    send({ id: msg.id, result: { received: received.filter((m) => m !== msg) } });
    return;
  }
  if (msg.id !== undefined) send({ id: msg.id, error: { code: -32601, message: "unknown", data: { kind: "method_not_found" } } });
}

createInterface({ input: process.stdin }).on("line", (line) => {
  if (line.trim()) onMessage(JSON.parse(line) as Msg);
});
process.stdin.on("end", () => process.exit(0));
