// The root README's TypeScript quickstart, compiled as written, runs and prints what it promises.

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { pathToFileURL } from "node:url";

import ts from "typescript";

import { PACKAGE_DIR, REPO_DIR, sidecarCommand } from "./helpers.js";

function quickstartBlock(language: string): string {
  const section = readFileSync(join(REPO_DIR, "README.md"), "utf8").split("## Quickstart")[1]!.split("\n## ")[0]!;
  const blocks = [...section.matchAll(new RegExp("```" + language + "\\n([\\s\\S]*?)```", "g"))].map((m) => m[1]!);
  assert.equal(blocks.length, 1, `expected one ${language} block in the README quickstart`);
  return blocks[0]!;
}

test("the README's TypeScript quickstart runs as written", () => {
  const source = quickstartBlock("ts");
  // type-check it against the built package, as a user's compiler would
  const dir = mkdtempSync(join(tmpdir(), "agentvm-readme-"));
  const file = join(dir, "quickstart.mts");
  writeFileSync(file, source);
  const program = ts.createProgram([file], {
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    target: ts.ScriptTarget.ES2022,
    strict: true,
    noEmit: true,
    types: ["node"],
    typeRoots: [join(PACKAGE_DIR, "node_modules/@types")],
    baseUrl: dir,
    paths: { agentvm: [join(PACKAGE_DIR, "dist/src/index.d.ts")] },
  });
  const problems = ts.getPreEmitDiagnostics(program).map((d) => ts.flattenDiagnosticMessageText(d.messageText, "\n"));
  assert.deepEqual(problems, []);
  // then run it, importing the built client
  const js = ts.transpileModule(source, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } }).outputText;
  const runnable = join(dir, "quickstart.mjs");
  writeFileSync(runnable, js.replace('from "agentvm"', `from ${JSON.stringify(pathToFileURL(join(PACKAGE_DIR, "dist/src/index.js")).href)}`));
  const stdout = execFileSync(process.execPath, [runnable], {
    env: { ...process.env, AGENTVM_SIDECAR: sidecarCommand().join(" ") },
    encoding: "utf8",
    timeout: 120_000,
  });
  assert.equal(stdout, "hi from the VM\nHI FROM THE VM\n");
});
