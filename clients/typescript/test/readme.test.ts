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

function readmeBlocks(readme: string, section: string, language: string): string[] {
  const text = readFileSync(readme, "utf8").split(`\n## ${section}\n`)[1]!.split("\n## ")[0]!;
  return [...text.matchAll(new RegExp("```" + language + "\\n([\\s\\S]*?)```", "g"))].map((m) => m[1]!);
}

function quickstartBlock(language: string): string {
  const blocks = readmeBlocks(join(REPO_DIR, "README.md"), "Quickstart", language);
  assert.equal(blocks.length, 1, `expected one ${language} block in the README quickstart`);
  return blocks[0]!;
}

/** Run ES module `source`, with `agentvm` resolved to the built client. */
function runWithBuiltClient(source: string): string {
  const dir = mkdtempSync(join(tmpdir(), "agentvm-readme-"));
  const runnable = join(dir, "example.mjs");
  writeFileSync(runnable, source.replace('from "agentvm"', `from ${JSON.stringify(pathToFileURL(join(PACKAGE_DIR, "dist/src/index.js")).href)}`));
  return execFileSync(process.execPath, [runnable], {
    env: { ...process.env, AGENTVM_SIDECAR: sidecarCommand().join(" ") },
    encoding: "utf8",
    timeout: 120_000,
  });
}

const PROJECT_OUTPUT = "HI FROM THE VM\nline 1\nline 2\nline 3\nexit 0\n";

test("the README's JavaScript block for your project runs as written", () => {
  const [block, ...rest] = readmeBlocks(join(REPO_DIR, "README.md"), "Use it from your project", "js");
  assert.equal(rest.length, 0);
  assert.equal(runWithBuiltClient(block!), PROJECT_OUTPUT);
});

test("the package README's quickstart is the root README's block and links nowhere", () => {
  const packageReadme = join(PACKAGE_DIR, "README.md");
  const [block] = readmeBlocks(packageReadme, "Quickstart", "js");
  assert.equal(block, readmeBlocks(join(REPO_DIR, "README.md"), "Use it from your project", "js")[0]);
  // the packed README travels alone: no relative links into the repository
  const links = [...readFileSync(packageReadme, "utf8").matchAll(/\]\(([^)]+)\)/g)].map((m) => m[1]!);
  assert.deepEqual(links.filter((l) => !/^https?:/.test(l)), []);
});

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
  assert.equal(runWithBuiltClient(js), "hi from the VM\nHI FROM THE VM\n");
});
