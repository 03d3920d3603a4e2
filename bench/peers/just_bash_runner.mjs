// Times a command under just-bash (a bash emulator in TypeScript) for bench/run.py.
// Usage: node just_bash_runner.mjs <iterations> <command> [file-to-preload:vm-path]
// Prints one JSON line: {"seconds": [...], "stdout_bytes": n}
// The command "::new-sandbox" times creating a sandbox (`new Bash()`) instead.
import { readFileSync } from "node:fs";
import { Bash } from "just-bash";

const [iterations, command, preload] = process.argv.slice(2);
const files = {};
if (preload) {
  const [hostPath, vmPath] = preload.split(":");
  files[vmPath] = readFileSync(hostPath, "latin1");
}
const seconds = [];
let stdoutBytes = 0;
for (let i = 0; i < Number(iterations); i++) {
  if (command === "::new-sandbox") {
    const t0 = process.hrtime.bigint();
    new Bash({ files });
    seconds.push(Number(process.hrtime.bigint() - t0) / 1e9);
    continue;
  }
  const bash = new Bash({ files });
  const t0 = process.hrtime.bigint();
  const result = await bash.exec(command);
  seconds.push(Number(process.hrtime.bigint() - t0) / 1e9);
  stdoutBytes = result.stdout.length;
}
console.log(JSON.stringify({ seconds, stdout_bytes: stdoutBytes }));
