"""A ``command`` that is one simple command of plain words runs without a shell.

Why: ``sh -c 'ls /'`` is two processes, and the shell's own start in wasm (~0.4 ms)
plus its process (~0.5 ms) are most of a short command's time (``ls /`` through the
wire: 3.1 ms with the shell, 2.0-2.2 ms without). bash does the same for ``-c`` with
one simple command: it execs the program in place of the shell. So such a command
runs directly, with the words after quote removal as its argv and the environment
brush would pass (sorted, ``SHLVL`` incremented). ``argv[0]`` is the word as typed,
as bash passes it (brush passes the path it found).

"Plain" is deliberately narrow, so nothing the shell would expand, redirect or run
itself slips through: words of letters, digits and ``_-./,:@%+=``, single-quoted
text, or double-quoted text without ``$``, backquote, backslash or ``"``, separated
by spaces or tabs; the first word names no builtin or keyword and assigns nothing;
and the environment names no startup file (``BASH_ENV``, ``ENV``) and exports no
function (``BASH_FUNC_*``). Anything else (pipes, variables, globs, ``~``, ``echo``,
``cd``...) goes to ``sh -c``, as does a command the direct start refuses (not found,
not executable: the shell then says so in its own words).
"""

from __future__ import annotations

import re

__all__ = ["plain_words", "shell_env"]

# brush's builtins (`enable`) and keywords (`compgen -k`), and bash's, for a shell
# built with more of them: the shell answers these itself, never a program of the name.
_SHELL_NAMES = frozenset(
    [
        ".", ":", "[", "[[", "]]", "!", "{", "}", "alias", "bg", "bind", "break", "builtin",
        "caller", "case", "cd", "command", "compgen", "complete", "compopt", "continue",
        "coproc", "declare", "dirs", "disown", "do", "done", "echo", "elif", "else", "enable",
        "esac", "eval", "exec", "exit", "export", "false", "fc", "fg", "fi", "for", "function",
        "getopts", "hash", "help", "history", "if", "in", "jobs", "kill", "let", "local",
        "logout", "mapfile", "popd", "printf", "pushd", "pwd", "read", "readarray", "readonly",
        "return", "select", "set", "shift", "shopt", "source", "suspend", "test", "then",
        "time", "times", "trap", "true", "type", "typeset", "ulimit", "umask", "unalias",
        "unset", "until", "wait", "while", "brushctl", "brushinfo"
    ]
)
_PLAIN = r"[A-Za-z0-9_\-./,:@%+=]"  # the characters a word may have unquoted
# One character or one quoted run per step, each alternative told apart by its first
# character: no nested repetition, so a long command that fails to match fails in
# linear time (`(?:[...]+|...)+` backtracked exponentially: a 40-byte command hung).
_WORD = re.compile(rf"""(?:{_PLAIN}|'[^']*'|"[^"$`\\]*")+""")
_PART = re.compile(rf"""{_PLAIN}+|'([^']*)'|"([^"]*)\"""")
_COMMAND = re.compile(rf"[ \t]*{_WORD.pattern}(?:[ \t]+{_WORD.pattern})*[ \t]*")
_STARTUP_FILES = ("BASH_ENV", "ENV")
_MAX_PLAIN_CHARS = 1024
_U32_TEXT, _U32 = re.compile(r"\+?[0-9]+"), 2**32 - 1


def plain_words(command: str, env: dict[str, str]) -> list[str] | None:
    """The argv ``sh -c command`` would run, when ``command`` is one simple command
    of plain words (see the module's doc); else None."""
    if len(command) > _MAX_PLAIN_CHARS:
        return None  # bounds the trio thread's parse; plain commands are short
    if any(name in _STARTUP_FILES or name.startswith("BASH_FUNC_") for name in env):
        return None  # the shell would read a file or define functions first
    if not _COMMAND.fullmatch(command):
        return None
    raw = _WORD.findall(command)
    if "=" in raw[0]:
        return None  # an assignment (`A=1 cmd`)
    words = ["".join(_unquoted(part) for part in _PART.finditer(word)) for word in raw]
    if not words[0] or words[0] in _SHELL_NAMES:
        return None
    return words


def _unquoted(part: re.Match[str]) -> str:
    single, double = part.group(1), part.group(2)
    return single if single is not None else double if double is not None else part.group(0)


def shell_env(env: dict[str, str]) -> dict[str, str]:
    """``env`` as brush passes it on: sorted by name, with ``SHLVL`` one higher
    (brush reads it as a u32 and adds with wrap-around; 1 when unset or unreadable)
    and ``PWD`` in its place (the kernel sets its value: spawn.py)."""
    value = env.get("SHLVL", "0")
    level = (int(value) + 1) & _U32 if _U32_TEXT.fullmatch(value) and int(value) <= _U32 else 1
    return dict(sorted({**env, "SHLVL": str(level), "PWD": env.get("PWD", "")}.items()))
