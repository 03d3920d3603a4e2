// Host tools through the TypeScript client: a guest in the VM calls a tool, the
// handler registered with onTool answers; a cancelled job aborts the handler's signal.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";

import { REPO_DIR, connectReal, within } from "./helpers.js";

const LIMIT_MS = 120_000;
const AUTH = "Authorization: Bearer ${AGENTVM_TOOLS_TOKEN}";

function request(method: string, path: string, body?: string): [string, ...string[]] {
  const argv: [string, ...string[]] = ["/usr/bin/http_request", "tools.agentvm.internal", "80", method, path, "-H", AUTH];
  return body === undefined ? argv : [...argv, "-d", body];
}

function statusAndJson(out: Uint8Array): [number, any] {
  const text = new TextDecoder().decode(out);
  const [head, body] = text.split("\r\n\r\n", 2);
  return [Number(head!.split(" ")[1]), body ? JSON.parse(body) : null];
}

test("a guest calls a tool answered by onTool, and cancelling a job aborts the handler", async () => {
  await using client = await within(LIMIT_MS, connectReal());
  const { vmId } = await client.vm.create({ config: {} });
  const guest = readFileSync(join(REPO_DIR, ".build/guests/http_request.wasm"));
  await client.fs.writeFile({ vmId, path: "/usr/bin/http_request", data: guest, createDirs: true, mode: 0o755 });

  let aborted!: () => void;
  const sawAbort = new Promise<void>((resolve) => (aborted = resolve));
  client.onTool("add", (input) => {
    const { a, b } = input as { a: number; b: number };
    return { sum: a + b };
  });
  client.onTool("slow", (_input, { signal }) => new Promise((_resolve, reject) => {
    signal.addEventListener("abort", () => { aborted(); reject(new Error("aborted")); });
  }));
  await client.tools.register({
    vmId,
    tools: [
      { name: "add", inputSchema: { type: "object", required: ["a", "b"] }, outputSchema: { type: "object", required: ["sum"] } },
      { name: "slow", longRunning: true, timeoutMs: 600_000 },
    ],
  });

  const exec = async (argv: [string, ...string[]]) => (await client.process.exec({ vmId, argv, timeoutMs: 90_000 })).stdout;
  assert.deepEqual(statusAndJson(await exec(request("POST", "/tools/add", '{"a": 2, "b": 3}'))), [200, { sum: 5 }]);
  assert.equal(statusAndJson(await exec(request("POST", "/tools/add", '{"a": 2}')))[0], 400);

  const [status, started] = statusAndJson(await exec(request("POST", "/tools/slow", "{}")));
  assert.equal(status, 202);
  const [, job] = statusAndJson(await exec(request("DELETE", `/jobs/${started.jobId}`)));
  assert.equal(job.state, "cancelled");
  await within(30_000, sawAbort, "the handler's abort");
  const log = await client.tools.log({ vmId });
  assert.deepEqual(log.entries.map((e) => e.status), ["200", "400", "202", "cancelled"]);
});
