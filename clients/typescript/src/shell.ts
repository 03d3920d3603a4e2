// POSIX shell word splitting for `$AGENTVM_SIDECAR`, matching Python's `shlex.split`
// (which the Python client uses): whitespace separates words, single quotes are literal,
// double quotes allow `\"`, `\\`, `\$` and `` \` `` escapes, a backslash outside quotes
// escapes the next character. No expansion of any kind.

/** Split `command` into argv like `shlex.split`. Throws on an unterminated quote. */
export function shellSplit(command: string): string[] {
  const words: string[] = [];
  let word = "";
  let inWord = false;
  for (let i = 0; i < command.length; i++) {
    const ch = command[i]!;
    if (ch === "'") {
      const end = command.indexOf("'", i + 1);
      if (end < 0) throw new Error(`unterminated single quote in ${JSON.stringify(command)}`);
      word += command.slice(i + 1, end);
      inWord = true;
      i = end;
    } else if (ch === '"') {
      inWord = true;
      for (i++; ; i++) {
        if (i >= command.length) throw new Error(`unterminated double quote in ${JSON.stringify(command)}`);
        const c = command[i]!;
        if (c === '"') break;
        if (c === "\\" && i + 1 < command.length && '"\\$`\n'.includes(command[i + 1]!)) {
          word += command[++i];
        } else {
          word += c;
        }
      }
    } else if (ch === "\\") {
      if (i + 1 < command.length) {
        word += command[++i];
        inWord = true;
      }
    } else if (/\s/.test(ch)) {
      if (inWord) words.push(word);
      word = "";
      inWord = false;
    } else {
      word += ch;
      inWord = true;
    }
  }
  if (inWord) words.push(word);
  return words;
}
