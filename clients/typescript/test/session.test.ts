// ACP sessions through the TypeScript client: the reference agent in the VM streams
// updates, asks permission (answered by a typed onRequest callback), writes a file
// on a host_dir mount, runs a command; then a prompt is cancelled and the session closed.

import assert from "node:assert/strict";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";

import type { SessionUpdateEvent } from "../src/index.js";
import { connectReal, within } from "./helpers.js";

const LIMIT_MS = 120_000;

test("a session streams updates in order, asks permission, writes the mount, runs a command, cancels and closes", async () => {
  await using client = await within(LIMIT_MS, connectReal());
  const host = mkdtempSync(join(tmpdir(), "agentvm-acp-"));
  const { vmId } = await client.vm.create({ config: { mounts: [{ type: "host_dir", path: "/work", hostPath: host }] } });
  const asked: string[] = [];
  client.onRequest("session.requestPermission", async (params) => {
    asked.push(String(params.toolCall.toolCallId));
    return { outcome: { outcome: "selected", optionId: "allow" } };
  });
  const updates: SessionUpdateEvent[] = [];
  client.on("session.update", (event) => updates.push(event));

  const session = await within(LIMIT_MS, client.session.create({ vmId, agent: "reference" }));
  const done = await within(LIMIT_MS, client.session.prompt({ sessionId: session.sessionId, prompt: [{ type: "text", text: "demo /work/out.txt" }] }));
  assert.equal(done.stopReason, "end_turn");
  while (updates.length < done.lastSeq) await new Promise((resolve) => setTimeout(resolve, 10));
  assert.deepEqual(
    updates.map((e) => e.seq),
    Array.from({ length: done.lastSeq }, (_, i) => i + 1),
  );
  assert.deepEqual(asked, ["call-1"]);
  assert.equal(readFileSync(join(host, "out.txt"), "utf8"), "written by acp-agent\n");
  const said = updates
    .filter((e) => e.update.sessionUpdate === "agent_message_chunk")
    .map((e) => (e.update.content as { text: string }).text)
    .join("");
  assert.match(said, /21 \/work\/out\.txt/);

  const sleeping = client.session.prompt({ sessionId: session.sessionId, prompt: [{ type: "text", text: "sleep" }] });
  while (!updates.some((e) => (e.update.content as { text?: string } | undefined)?.text === "Sleeping until cancelled.")) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  await client.session.cancel({ sessionId: session.sessionId });
  assert.equal((await within(LIMIT_MS, sleeping)).stopReason, "cancelled");

  const closed = await client.session.close({ sessionId: session.sessionId });
  assert.equal(closed.exitCode, 0);
  assert.deepEqual((await client.session.list({})).sessions, []);
});
