// VM and process handles against the real sidecar: createVm, vm.fs, vm.exec, vm.spawn.

import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";

import { Client, VmProcess } from "../src/index.js";
import { connectReal, sidecarCommand, within } from "./helpers.js";

const LIMIT_MS = 60_000;
const text = (data: Uint8Array): string => new TextDecoder().decode(data);

async function collect(proc: VmProcess, stream: "stdout" | "stderr" = "stdout"): Promise<string> {
  let out = "";
  for await (const chunk of proc) if (chunk.stream === stream) out += text(chunk.data);
  return out;
}

test("a VM handle writes text and bytes, reads, execs and disposes", async () => {
  await using client = await within(LIMIT_MS, connectReal());
  const vm = await client.createVm();
  await vm.fs.write("/home/user/deep/dir/a.txt", "hello+world="); // text is UTF-8, never base64
  assert.equal(text(await vm.fs.read("/home/user/deep/dir/a.txt")), "hello+world=");
  await vm.fs.write("/tmp/b.bin", new Uint8Array([0, 255]));
  assert.deepEqual([...(await vm.fs.read("/tmp/b.bin"))], [0, 255]);
  await assert.rejects(vm.fs.write("/tmp/n", 5 as unknown as string), TypeError);
  assert.equal(await vm.fs.exists("/tmp/n"), false);
  const result = await vm.exec("cat deep/dir/a.txt | wc -c", { cwd: "/home/user" });
  assert.equal(text(result.stdout).trim(), "12");
  assert.equal(text((await vm.exec(["cat"], { stdin: "TODO" })).stdout), "TODO");
  await vm.dispose();
  await vm.dispose(); // idempotent
  assert.ok(!(await client.vm.list()).vms.some((v) => v.vmId === vm.vmId));
});

test("spawned output is never missed before spawn resolves", async () => {
  await using client = await within(LIMIT_MS, connectReal());
  const vm = await client.createVm();
  const procs = await Promise.all(Array.from({ length: 12 }, (_, i) => vm.spawn(`echo first-${i}; echo second-${i}`)));
  for (const [i, proc] of procs.entries()) {
    assert.equal(await within(LIMIT_MS, collect(proc)), `first-${i}\nsecond-${i}\n`);
    assert.equal(proc.exit?.exitCode, 0);
  }
});

test("spawn callbacks, stdin, kill and wait", async () => {
  await using client = await within(LIMIT_MS, connectReal());
  const vm = await client.createVm();
  let out = "";
  let err = "";
  const proc = await vm.spawn("echo one; echo two >&2; echo three", {
    onStdout: (d) => (out += text(d)),
    onStderr: (d) => (err += text(d)),
  });
  assert.equal((await within(LIMIT_MS, proc.wait())).exitCode, 0);
  assert.equal(out, "one\nthree\n");
  assert.equal(err, "two\n");
  const cat = await vm.spawn(["cat"]);
  await cat.writeStdin("through stdin");
  await cat.closeStdin();
  assert.equal(await within(LIMIT_MS, collect(cat)), "through stdin");
  const sleeper = await vm.spawn(["sleep", "100"]);
  await sleeper.kill("SIGKILL");
  const status = await within(LIMIT_MS, sleeper.wait());
  assert.equal(status.signal, "SIGKILL");
  assert.equal(status.exitCode, 137);
});

test("exec keeps the first maxOutputBytes and says truncated", async () => {
  await using client = await within(LIMIT_MS, connectReal());
  const vm = await client.createVm();
  const result = await vm.exec("head -c 200000 /dev/zero; echo tail >&2", { maxOutputBytes: 1000 });
  assert.equal(result.truncated, true);
  assert.equal(result.stdout.length, 1000);
  assert.equal(text(result.stderr), "tail\n");
  assert.equal(result.exitCode, 0);
});

test("a process handle settles when the client closes first: with the exit closing caused, or SidecarError", async () => {
  const client = await within(LIMIT_MS, connectReal());
  const vm = await client.createVm();
  const proc = await vm.spawn("sleep 100");
  await within(LIMIT_MS, client.close());
  // Closing disposes the VM, which kills the process; its exit event may reach the
  // client before the sidecar's output ends (then wait() has it), or not.
  const settled = await within(LIMIT_MS, proc.wait().catch((error: unknown) => error));
  if (settled instanceof Error) assert.equal(settled.name, "SidecarError");
  else assert.deepEqual(settled, { exitCode: 137, signal: "SIGKILL" });
});

test("upload and download stream files larger than a frame", async () => {
  const dir = mkdtempSync(join(tmpdir(), "agentvm-transfer-"));
  const data = Buffer.alloc(1024 * 1024, 0);
  for (let i = 0; i < data.length; i++) data[i] = i % 251;
  writeFileSync(join(dir, "big.bin"), data);
  const command = [...sidecarCommand(), "--max-frame-bytes", "300000"]; // a 1 MB file cannot fit in one
  await using client = await within(LIMIT_MS, Client.connect({ command, stderr: "pipe" }));
  const vm = await client.createVm();
  assert.equal(await vm.fs.upload(join(dir, "big.bin"), "/home/user/in/big.bin", { chunkBytes: 65536 }), data.length);
  assert.equal(await vm.fs.download("/home/user/in/big.bin", join(dir, "back.bin"), { chunkBytes: 65536 }), data.length);
  assert.ok(readFileSync(join(dir, "back.bin")).equals(data));
});
