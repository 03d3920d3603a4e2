// Failure paths of the TypeScript client, made to fire with a scripted fake sidecar
// (test/fake-sidecar.ts): every one ends in a typed error, never a hang.

import assert from "node:assert/strict";
import { test } from "node:test";

import { Client, DEFAULT_EXEC_TIMEOUT_MS, RequestAbortedError, RpcError, SidecarError, VersionMismatchError } from "../src/index.js";
import { fakeSidecar, within } from "./helpers.js";

const LIMIT_MS = 15_000;

test("a sidecar command that does not exist fails with failed_to_start", async () => {
  const err = await within(LIMIT_MS, Client.connect({ command: ["/nonexistent/agentvm-sidecar", "--stdio"] }).then(
    () => assert.fail("connected"),
    (e: unknown) => e,
  ));
  assert.ok(err instanceof SidecarError, String(err));
  assert.equal(err.reason, "failed_to_start");
  assert.match(err.message, /nonexistent\/agentvm-sidecar/);
  assert.match(err.message, /AGENTVM_SIDECAR/); // says how to get one
});

test("a sidecar that exits before answering hello fails with exited and its status", async () => {
  const err = await within(LIMIT_MS, Client.connect({ command: fakeSidecar("exit-at-hello") }).catch((e: unknown) => e));
  assert.ok(err instanceof SidecarError, String(err));
  assert.equal(err.reason, "exited");
  assert.equal(err.exitCode, 5);
});

test("a sidecar that dies mid-request rejects the pending request with exited", async () => {
  const client = await within(LIMIT_MS, Client.connect({ command: fakeSidecar("exit-mid-request") }));
  try {
    const err = await within(LIMIT_MS, client.vm.list().catch((e: unknown) => e));
    assert.ok(err instanceof SidecarError, String(err));
    assert.equal(err.reason, "exited");
    assert.equal(err.exitCode, 3);
    // Later requests fail at once with the same error.
    assert.equal(await client.vm.list().catch((e: unknown) => e), err);
    assert.equal(client.closedError, err);
  } finally {
    await within(LIMIT_MS, client.close());
  }
});

test("a sidecar speaking another protocol version fails with VersionMismatchError", async () => {
  const err = await within(LIMIT_MS, Client.connect({ command: fakeSidecar("version-mismatch") }).catch((e: unknown) => e));
  assert.ok(err instanceof VersionMismatchError, String(err));
  assert.ok(err instanceof RpcError);
  assert.equal(err.kind, "version_mismatch");
  assert.equal(err.expectedVersion, 2);
  assert.equal(err.receivedVersion, 1);
});

test("a sidecar that never answers hello fails with timeout", async () => {
  const err = await within(LIMIT_MS, Client.connect({ command: fakeSidecar("silent"), handshakeTimeoutMs: 300 }).catch((e: unknown) => e));
  assert.ok(err instanceof SidecarError, String(err));
  assert.equal(err.reason, "timeout");
});

test("a sidecar writing something other than JSON-RPC fails with protocol_error", async () => {
  const err = await within(LIMIT_MS, Client.connect({ command: fakeSidecar("garbage") }).catch((e: unknown) => e));
  assert.ok(err instanceof SidecarError, String(err));
  assert.equal(err.reason, "protocol_error");
  assert.match(err.message, /not JSON/);
});

test("an error the sidecar cannot address to a request breaks the connection instead of hanging", async () => {
  const client = await within(LIMIT_MS, Client.connect({ command: fakeSidecar("ok") }));
  try {
    const slow = client.callRaw("test.slow", {});
    const err = await within(LIMIT_MS, client.callRaw("test.nullError", {}).catch((e: unknown) => e));
    assert.ok(err instanceof SidecarError && err.reason === "protocol_error", String(err));
    assert.equal(await within(LIMIT_MS, slow.catch((e: unknown) => e)), err);
  } finally {
    await within(LIMIT_MS, client.close());
  }
});

test("a request larger than the sidecar's maxFrameBytes is refused locally", async () => {
  const client = await within(LIMIT_MS, Client.connect({ command: fakeSidecar("ok") }));
  try {
    const err = await client.fs
      .writeFile({ vmId: "vm-1", path: "/big", data: new Uint8Array(8192) })
      .catch((e: unknown) => e);
    assert.ok(err instanceof RpcError, String(err));
    assert.equal(err.kind, "frame_too_large");
    assert.equal(client.closedError, null, "the connection stays usable");
  } finally {
    await within(LIMIT_MS, client.close());
  }
});

test("aborting or timing out a request rejects with RequestAbortedError and sends $/cancelRequest", async () => {
  const client = await within(LIMIT_MS, Client.connect({ command: fakeSidecar("ok") }));
  try {
    const controller = new AbortController();
    const slow = client.callRaw("test.slow", {}, { signal: controller.signal });
    controller.abort(new Error("changed my mind"));
    const aborted = await slow.catch((e: unknown) => e);
    assert.ok(aborted instanceof RequestAbortedError, String(aborted));
    assert.equal(aborted.reason, "aborted");
    assert.match(String((aborted.cause as Error).message), /changed my mind/);
    const timedOut = await client.callRaw("test.slow", {}, { timeoutMs: 50 }).catch((e: unknown) => e);
    assert.ok(timedOut instanceof RequestAbortedError, String(timedOut)); // not a bare DOMException
    assert.equal(timedOut.reason, "timeout");
    const report = (await client.callRaw("test.report", {})) as { received: Array<{ method?: string; params?: { id: number } }> };
    const cancels = report.received.filter((m) => m.method === "$/cancelRequest").map((m) => m.params!.id);
    const slowIds = report.received.filter((m) => m.method === "test.slow").map((m) => (m as { id: number }).id);
    assert.deepEqual(cancels, slowIds);
  } finally {
    await within(LIMIT_MS, client.close());
  }
});

test("sidecar -> client requests are answered by handlers, unknown ones with method_not_found", async () => {
  const client = await within(LIMIT_MS, Client.connect({ command: fakeSidecar("ok") }));
  client.onRequest("host.echo", async (params) => ({ echoed: (params as { text: string }).text }));
  client.onRequest("host.fail", () => {
    throw new RpcError({ code: -32012, message: "nope", data: { kind: "permission_denied" } });
  });
  try {
    await client.callRaw("test.askClient", {}); // the fake now sends host.echo, host.fail, host.unknown
    let responses: Array<{ id: number; result?: unknown; error?: { data?: { kind: string } } }> = [];
    await within(LIMIT_MS, (async () => {
      while (responses.length < 3) {
        const report = (await client.callRaw("test.report", {})) as { received: typeof responses & Array<{ method?: string }> };
        responses = report.received.filter((m) => !("method" in m));
        await new Promise((r) => setTimeout(r, 20));
      }
    })());
    const byId = new Map(responses.map((r) => [r.id, r]));
    assert.deepEqual(byId.get(1000)?.result, { echoed: "ping" });
    assert.equal(byId.get(1001)?.error?.data?.kind, "permission_denied");
    assert.equal(byId.get(1002)?.error?.data?.kind, "method_not_found");
  } finally {
    await within(LIMIT_MS, client.close());
  }
});

test("events reach listeners and iterators as typed objects, and iteration ends on close", async () => {
  const client = await within(LIMIT_MS, Client.connect({ command: fakeSidecar("ok") }));
  const outputs: string[] = [];
  const off = client.on("process.output", (e) => outputs.push(new TextDecoder().decode(e.data)));
  const stream = client.events();
  await client.callRaw("test.emit", { count: 3 });
  off();
  const seen: string[] = [];
  for await (const event of stream) {
    seen.push(event.type);
    if (event.type === "process.output") assert.ok(event.data instanceof Uint8Array);
    if (event.type === "process.exit") break;
  }
  assert.deepEqual(outputs, ["chunk 0", "chunk 1", "chunk 2"]);
  assert.deepEqual(seen, ["process.output", "process.output", "process.output", "process.exit"]);

  const open = client.events();
  const ended = open.next();
  await within(LIMIT_MS, client.close());
  assert.deepEqual(await within(LIMIT_MS, ended), { value: undefined, done: true });
  const err = await client.vm.list().catch((e: unknown) => e);
  assert.ok(err instanceof SidecarError && err.reason === "exited");
});

test("an event iterator that falls behind still gets every event, in order", async () => {
  const client = await within(LIMIT_MS, Client.connect({ command: fakeSidecar("ok") }));
  try {
    const stream = client.events();
    const emitted = client.callRaw("test.emit", { count: 3000 });
    let count = 0;
    for await (const event of stream) {
      count++;
      if (event.type === "process.exit") break;
    }
    await within(LIMIT_MS, emitted);
    assert.equal(count, 3001);
  } finally {
    await within(LIMIT_MS, client.close());
  }
});

test("process.exec is sent with the default timeout unless the caller gives one (null: none)", async () => {
  const client = await within(LIMIT_MS, Client.connect({ command: fakeSidecar("ok") }));
  try {
    await client.process.exec({ vmId: "vm-1", command: "sleep 1000" }).catch(() => undefined);
    await client.process.exec({ vmId: "vm-1", command: "sleep 1000", timeoutMs: null }).catch(() => undefined);
    await client.process.exec({ vmId: "vm-1", command: "sleep 1000", timeoutMs: 5 }).catch(() => undefined);
    const report = (await client.callRaw("test.report", {})) as { received: Array<{ method?: string; params?: { timeoutMs?: number | null } }> };
    const sent = report.received.filter((m) => m.method === "process.exec").map((m) => m.params!.timeoutMs);
    assert.deepEqual(sent, [DEFAULT_EXEC_TIMEOUT_MS, null, 5]);
  } finally {
    await within(LIMIT_MS, client.close());
  }
});
