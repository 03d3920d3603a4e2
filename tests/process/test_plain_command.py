"""A ``command`` of plain words runs without a shell, exactly as ``sh -c`` runs it."""

from __future__ import annotations

import subprocess
import sys

import pytest
import trio

from agentvm_sidecar.plain_command import plain_words, shell_env

from .conftest import running_pids, sh, wait_until_no_process_runs

PLAIN = {
    "ls /": ["ls", "/"],
    " ls  -la\t/tmp ": ["ls", "-la", "/tmp"],
    "grep 'a b' f": ["grep", "a b", "f"],
    'git commit -m "fix: x=1, 100%"': ["git", "commit", "-m", "fix: x=1, 100%"],
    "grep 'it''s' x": ["grep", "its", "x"],
    "ls ''": ["ls", ""],
    "dd if=/dev/zero of=x bs=1k": ["dd", "if=/dev/zero", "of=x", "bs=1k"],
    "/usr/bin/env -u HOME": ["/usr/bin/env", "-u", "HOME"],
    "grep 'a|b;c>d' f": ["grep", "a|b;c>d", "f"],
}

SHELL = [
    "",
    "   ",
    "echo hi",  # builtins, whatever their quoting
    "'cd' /",
    "printf x",
    "test -f x",
    "[ -f x ]",
    "if true",  # keywords
    "A=1 ls",  # an assignment
    "ls $HOME",  # expansions
    'ls "$HOME"',
    "ls `pwd`",
    "ls ~",
    "ls *.py",
    "ls ?",
    "ls {a,b}",
    "ls [ab]",
    "cat a\\ b",  # escapes
    'grep "a\\"b"',
    "ls | wc",  # operators, redirections, lists
    "ls > f",
    "ls < f",
    "ls; ls",
    "ls && ls",
    "ls &",
    "(ls)",
    "ls #comment",
    "ls\nls",
    "!ls",
    "ls 'unterminated",
]


@pytest.mark.parametrize("command", PLAIN)
def test_plain_commands_become_their_words(command):
    assert plain_words(command, {"PATH": "/bin"}) == PLAIN[command]


@pytest.mark.parametrize("command", SHELL)
def test_anything_the_shell_would_interpret_keeps_the_shell(command):
    assert plain_words(command, {}) is None


def test_a_command_that_fails_late_is_refused_in_linear_time():
    """The first pattern (`(?:[...]+|...)+`) backtracked exponentially: 40
    characters and a `$` never returned, and the trio thread spun. (In another
    process: a regex holds the GIL, so a thread here could not be given up on.)"""
    probe = "from agentvm_sidecar.plain_command import plain_words; print(plain_words('a' * 1000 + '$', {}))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert done.stdout == "None\n"


def test_a_long_command_keeps_the_shell():
    assert plain_words("ls " + "a" * 1022, {}) is None
    assert plain_words("ls " + "a" * 1021, {}) == ["ls", "a" * 1021]


@pytest.mark.parametrize("name", ["BASH_ENV", "ENV", "BASH_FUNC_ls%%"])
def test_an_environment_that_makes_the_shell_read_or_define_things_keeps_it(name):
    assert plain_words("ls /", {name: "x"}) is None


@pytest.mark.parametrize(
    ("inherited", "level"),
    [
        (None, "1"), ("2", "3"), ("+2", "3"), ("007", "8"), ("0", "1"), ("-0", "1"), ("-5", "1"), ("x", "1"), (" 3", "1"),
        ("", "1"), ("1_0", "1"), ("4294967294", "4294967295"), ("4294967295", "0"), ("99999999999", "1"),
    ],
)
def test_shell_env_counts_levels_as_brush_does(inherited, level):
    env = {} if inherited is None else {"SHLVL": inherited}
    assert shell_env(env)["SHLVL"] == level


def test_shell_env_is_sorted_with_pwd_in_its_place():
    assert list(shell_env({"b": "1", "QA": "2", "a": "3"})) == ["PWD", "QA", "SHLVL", "a", "b"]


# Each is run both ways; the last ones are refused at the direct start (not found,
# a directory, not executable) and go to the shell, which reports them.
SAME_AS_THE_SHELL = [
    "ls /",
    "env",
    "cat /etc/hostname",
    "wc -c /etc/hostname /etc/passwd",
    "grep -c 'root' /etc/passwd",
    "head -c 5 /etc/passwd",
    "ls /nonexistent",
    "sort /tmp/script",
    "/tmp/script 'an arg'",  # a text file without #!: run by the shell either way
    "nosuch arg",
    "/tmp",
    "/tmp/plain",
]


async def test_plain_commands_give_what_the_shell_gives(client, vm_id):
    await client.fs.write_file(vm_id, "/tmp/script", b"echo script \"$@\" $SHLVL\n", mode=0o755)
    await client.fs.write_file(vm_id, "/tmp/plain", b"data\n", mode=0o644)
    for command in SAME_AS_THE_SHELL:
        assert plain_words(command, {}) is not None, command  # each takes the direct start first
        direct = await sh(client, vm_id, command, env={"SHLVL": "2"})
        shell = await client.process.exec(vm_id, argv=["sh", "-c", command], env={"SHLVL": "2"}, timeout_ms=60_000)
        assert (direct.exit_code, direct.stdout, direct.stderr) == (shell.exit_code, shell.stdout, shell.stderr), command


async def test_a_plain_command_is_one_process_and_a_shell_command_two(client, vm_id):
    async def running_once_sleep_runs(command: str) -> list[tuple[int, list[str]]]:
        pid = (await client.process.spawn(vm_id, command)).pid
        try:
            with trio.fail_after(20):
                while True:
                    running = [(p.ppid, p.argv) for p in (await client.process.list(vm_id)).processes if p.state == "running"]
                    if any(argv[0].endswith("sleep") for _, argv in running):
                        return running
                    await trio.sleep(0.02)
        finally:
            await client.process.kill(vm_id, pid)
            await wait_until_no_process_runs(client, vm_id)

    assert await running_once_sleep_runs("sleep 30") == [(0, ["sleep", "30"])]
    shell = await running_once_sleep_runs("sleep 30; true")
    # our sh passes the word as typed, as bash does (brush passed the path it found)
    assert [argv[0] for _, argv in shell] == ["sh", "sleep"]
    assert await running_pids(client, vm_id) == []
