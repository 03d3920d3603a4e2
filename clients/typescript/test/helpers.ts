// Shared test helpers: where the real sidecar is, the fake sidecar, and timeouts.

import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

import { Client, shellSplit, type ConnectOptions } from "../src/index.js";

const here = dirname(fileURLToPath(import.meta.url)); // dist/test
export const PACKAGE_DIR = resolve(here, "../..");
export const REPO_DIR = resolve(PACKAGE_DIR, "../..");
export const SCHEMA_PATH = join(REPO_DIR, "schemas/agentvm-protocol.schema.json");
export const CASES_DIR = join(REPO_DIR, "tests/conformance/cases");

/** The real sidecar: `$AGENTVM_SIDECAR`, else the repository venv's entry point. */
export function sidecarCommand(): string[] {
  const override = process.env.AGENTVM_SIDECAR;
  if (override && override.trim()) return shellSplit(override);
  const venv = join(REPO_DIR, ".venv/bin/agentvm-sidecar");
  if (existsSync(venv)) return [venv, "--stdio", "--log-level", "warning"];
  return ["agentvm-sidecar", "--stdio", "--log-level", "warning"];
}

/** Connect to the real sidecar with its logs captured (quoted in errors). */
export function connectReal(options: ConnectOptions = {}): Promise<Client> {
  return Client.connect({ command: sidecarCommand(), stderr: "pipe", handshakeTimeoutMs: 30_000, ...options });
}

/** argv running the fake sidecar (test/fake-sidecar.ts) in `mode`. */
export function fakeSidecar(mode: string): string[] {
  return [process.execPath, join(here, "fake-sidecar.js"), mode];
}

/** Reject when `promise` does not settle within `ms`: tests must never hang. */
export async function within<T>(ms: number, promise: Promise<T>, what = "operation"): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} hung for ${ms} ms`)), ms))),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
