// The typed surface against the real sidecar, plus unit tests of the pieces with no I/O.

import assert from "node:assert/strict";
import { test } from "node:test";

import { LineSplitter, FrameTooLargeError } from "../src/framing.js";
import { Client, RpcError, SidecarError, defaultSidecarCommand, shellSplit } from "../src/index.js";
import { connectReal, within } from "./helpers.js";

const LIMIT_MS = 30_000;

test("the typed API round-trips bytes and returns typed results", async () => {
  await using client = await within(LIMIT_MS, connectReal());
  assert.equal(client.hello.protocolVersion, 1);
  const { vmId } = await client.vm.create({ config: { software: false } });
  const data = new Uint8Array([0, 1, 2, 255, 10]);
  await client.fs.writeFile({ vmId, path: "/tmp/bin", data });
  const read = await client.fs.readFile({ vmId, path: "/tmp/bin" });
  assert.ok(read.data instanceof Uint8Array);
  assert.deepEqual([...read.data], [...data]);
  await client.fs.writeFiles({ vmId, files: [{ path: "/tmp/a", data: new TextEncoder().encode("A") }] });
  const many = await client.fs.readFiles({ vmId, paths: ["/tmp/a", "/tmp/missing"] });
  assert.equal(new TextDecoder().decode(many.files[0]!.data!), "A");
  assert.equal(many.files[1]!.error?.errno, "ENOENT");
  const { vms } = await client.vm.list();
  assert.ok(vms.some((vm) => vm.vmId === vmId));
  assert.equal((await client.call("fs.exists", { vmId, path: "/tmp/a" })).exists, true);
  await client.vm.dispose({ vmId });
});

test("wire errors reject with RpcError carrying kind, errno and path", async () => {
  await using client = await within(LIMIT_MS, connectReal());
  const { vmId } = await client.vm.create({ config: { software: false } });
  const err = await client.fs.readFile({ vmId, path: "/tmp/missing" }).catch((e: unknown) => e);
  assert.ok(err instanceof RpcError, String(err));
  assert.equal(err.kind, "not_found");
  assert.equal(err.errno, "ENOENT");
  assert.equal(err.path, "/tmp/missing");
  await assert.rejects(client.fs.writeFile({ vmId, path: "/x", data: "text" as unknown as Uint8Array }), TypeError);
});

test("close disposes the sidecar and later calls fail with exited", async () => {
  const client = await within(LIMIT_MS, connectReal());
  await client.vm.create({ config: { software: false } });
  await within(LIMIT_MS, client.close());
  await within(LIMIT_MS, client.close()); // idempotent
  const err = await client.vm.list().catch((e: unknown) => e);
  assert.ok(err instanceof SidecarError && err.reason === "exited", String(err));
});

test("Client.connect honours $AGENTVM_SIDECAR through defaultSidecarCommand", () => {
  assert.deepEqual(defaultSidecarCommand({ AGENTVM_SIDECAR: "/opt/venv/bin/agentvm-sidecar --stdio" }), [
    "/opt/venv/bin/agentvm-sidecar",
    "--stdio",
  ]);
  assert.deepEqual(defaultSidecarCommand({}), ["agentvm-sidecar", "--stdio"]);
  assert.equal(typeof Client.connect, "function");
});

test("shellSplit splits like Python's shlex.split", () => {
  assert.deepEqual(shellSplit(`a  'b c' "d \\"e\\"" f\\ g ''`), ["a", "b c", 'd "e"', "f g", ""]);
  assert.deepEqual(shellSplit(`python -m "agentvm_sidecar" --stdio`), ["python", "-m", "agentvm_sidecar", "--stdio"]);
  assert.throws(() => shellSplit(`'open`), /unterminated/);
});

test("LineSplitter yields whole lines however the bytes are chunked", () => {
  const text = '{"a":1}\n{"b":2}\n\n{"c":3}\n';
  for (const size of [1, 2, 5, 100]) {
    const splitter = new LineSplitter(1024);
    const lines: string[] = [];
    for (let i = 0; i < text.length; i += size) lines.push(...splitter.push(Buffer.from(text.slice(i, i + size))).map(String));
    assert.deepEqual(lines, ['{"a":1}', '{"b":2}', "", '{"c":3}'], `chunk size ${size}`);
  }
  const small = new LineSplitter(4);
  assert.throws(() => small.push(Buffer.from("12345")), FrameTooLargeError);
});

test("process output arrives as bytes from exec and from spawn events", async (t) => {
  await using client = await within(LIMIT_MS, connectReal());
  if (!client.hello.methods.includes("process.spawn")) return t.skip("sidecar does not serve process.* yet");
  const { vmId } = await client.vm.create();
  const ran = await client.process.exec({ vmId, argv: ["cat"], stdin: new TextEncoder().encode("typed stdin") });
  assert.equal(ran.exitCode, 0);
  assert.equal(new TextDecoder().decode(ran.stdout), "typed stdin");

  const events = client.events();
  const { pid } = await client.process.spawn({ vmId, command: "echo streamed" });
  let stdout = "";
  for await (const event of events) {
    if (event.type === "session.update" || event.pid !== pid) continue;
    if (event.type === "process.output") stdout += new TextDecoder().decode(event.data);
    if (event.type === "process.exit") {
      assert.equal(event.exitCode, 0);
      break;
    }
  }
  assert.equal(stdout, "streamed\n");
});

test("an event iterator nobody reads holds back only its process, never other calls", async () => {
  await using client = await within(LIMIT_MS, connectReal());
  const { vmId } = await client.vm.create();
  const total = 20 * 1024 * 1024;
  const events = client.events();
  const { pid } = await client.process.spawn({ vmId, command: `head -c ${total} /dev/zero` });
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const echoed = await within(10_000, client.process.exec({ vmId, command: "echo still served" }));
  assert.equal(new TextDecoder().decode(echoed.stdout), "still served\n");
  const running = (await client.process.list({ vmId })).processes.filter((p) => p.state === "running");
  assert.ok(running.some((p) => p.pid === pid), "the producer is held back, not buffered away");
  let received = 0;
  for await (const event of events) {
    if (event.type === "session.update" || event.pid !== pid) continue;
    if (event.type === "process.output") received += event.data.length;
    if (event.type === "process.exit") break;
  }
  assert.equal(received, total);
});
