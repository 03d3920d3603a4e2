"""agentvm's own `grep` (software/commands/grep.c), end to end through the sidecar.

The pinned @agentos-software/grep@0.3.4 ships only the egrep/fgrep shims; the /bin
layer adds our grep.wasm, built at setup into `<software dir>/commands`.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from agentvm_sidecar.kernel.memfs import MemoryFs
from agentvm_sidecar.software import SoftwareLibrary
from agentvm_sidecar.software.layer import _add_builtin_commands, build_bin_layer
from agentvm_sidecar.software.library import SoftwareMissingError
from tests.process.conftest import sh
from tests.software.conftest import built_command


@pytest.fixture(scope="module", autouse=True)
def grep_module() -> Path:
    return built_command("grep")


TEXT = b"hello world\nfoo bar\nFoo Baz\nabc123\nfoobar\n"


@pytest.fixture
async def text_vm(client, vm_id):
    await client.fs.write_file(vm_id, "/tmp/g/a.txt", TEXT, create_dirs=True)
    return vm_id


# -- the /bin layer -----------------------------------------------------------


def test_layer_adds_built_grep_with_its_digest(grep_module: Path, library: SoftwareLibrary) -> None:
    layer = build_bin_layer(library)
    node = layer.fs.lookup(layer.fs.root(), "grep")
    assert node is not None
    stat = layer.fs.getattr(node)
    assert stat.mode & 0o7777 == 0o755
    digest, module = layer.modules[stat.ino]
    data = grep_module.read_bytes()
    assert (digest, bytes(module)) == (hashlib.sha256(data).hexdigest(), data)
    assert module.readonly


def test_a_layer_without_our_built_commands_is_refused_with_the_setup_hint(
    tmp_path: Path, library: SoftwareLibrary
) -> None:
    # Before: the layer was built without grep and only a log line said so.
    with pytest.raises(SoftwareMissingError, match="setup"):
        build_bin_layer(library, builtin_dir=tmp_path, toolbox=[])  # nothing built there


def test_a_package_command_wins_over_a_built_one(grep_module: Path) -> None:
    fs = MemoryFs(None, root_mode=0o755)
    modules: dict[int, tuple[str, memoryview]] = {}
    _add_builtin_commands(fs, modules, {"grep"}, grep_module.parent)
    assert fs.lookup(fs.root(), "grep") is None  # the other built commands (acp-agent) are there
    fresh = MemoryFs(None, root_mode=0o755)
    fresh_modules: dict[int, tuple[str, memoryview]] = {}
    _add_builtin_commands(fresh, fresh_modules, {"egrep"}, grep_module.parent)
    assert fresh.lookup(fresh.root(), "grep") is not None and len(fresh_modules) == len(modules) + 1


# -- behaviour through the wire -------------------------------------------------


async def test_match_and_no_match_exit_codes(client, text_vm):
    res = await sh(client, text_vm, "grep foo /tmp/g/a.txt")
    assert (res.exit_code, res.stdout, res.stderr) == (0, b"foo bar\nfoobar\n", b"")
    res = await sh(client, text_vm, "grep nothing-here /tmp/g/a.txt")
    assert (res.exit_code, res.stdout) == (1, b"")


async def test_case_invert_count_and_line_numbers(client, text_vm):
    assert (await sh(client, text_vm, "grep -i foo /tmp/g/a.txt")).stdout == (
        b"foo bar\nFoo Baz\nfoobar\n"
    )
    assert (await sh(client, text_vm, "grep -v foo /tmp/g/a.txt")).stdout == (
        b"hello world\nFoo Baz\nabc123\n"
    )
    assert (await sh(client, text_vm, "grep -c foo /tmp/g/a.txt")).stdout == b"2\n"
    assert (await sh(client, text_vm, "grep -in FOO /tmp/g/a.txt")).stdout == (
        b"2:foo bar\n3:Foo Baz\n5:foobar\n"
    )
    assert (await sh(client, text_vm, "grep -vc foo /tmp/g/a.txt")).stdout == b"3\n"


async def test_list_and_quiet(client, text_vm):
    await client.fs.write_file(text_vm, "/tmp/g/other.txt", b"nothing\n")
    res = await sh(client, text_vm, "grep -l foo /tmp/g/a.txt /tmp/g/other.txt")
    assert (res.exit_code, res.stdout) == (0, b"/tmp/g/a.txt\n")
    res = await sh(client, text_vm, "grep -L foo /tmp/g/a.txt /tmp/g/other.txt")
    assert res.stdout == b"/tmp/g/other.txt\n"
    res = await sh(client, text_vm, "grep -q foo /tmp/g/a.txt && echo yes")
    assert (res.exit_code, res.stdout) == (0, b"yes\n")
    res = await sh(client, text_vm, "grep -q zzz /tmp/g/a.txt")
    assert (res.exit_code, res.stdout) == (1, b"")
    # -q: a match wins over an error in another operand
    res = await sh(client, text_vm, "grep -q foo /tmp/g/missing /tmp/g/a.txt")
    assert res.exit_code == 0


async def test_only_matching_word_and_line(client, text_vm):
    assert (await sh(client, text_vm, "grep -o 'o[a-z]*' /tmp/g/a.txt")).stdout == (
        b"o\norld\noo\noo\noobar\n"
    )
    assert (await sh(client, text_vm, "grep -w foo /tmp/g/a.txt")).stdout == b"foo bar\n"
    assert (await sh(client, text_vm, "grep -x foobar /tmp/g/a.txt")).stdout == b"foobar\n"
    assert (await sh(client, text_vm, "grep -x foo /tmp/g/a.txt")).exit_code == 1
    res = await sh(client, text_vm, "echo 'abb_ a abb' | grep -ow 'ab*'")
    assert res.stdout == b"a\nabb\n"


async def test_plain_word_patterns_agree_with_the_regex_path(client, text_vm):
    # A pattern without special characters takes the fixed-string search; the same
    # pattern spelled as a regex ('fo[o]') takes TRE. Both must select alike.
    for opts in ("", "-i", "-w", "-x", "-o", "-v", "-c", "-io", "-iw", "-n -E"):
        fixed = await sh(client, text_vm, f"grep {opts} foo /tmp/g/a.txt")
        regex = await sh(client, text_vm, f"grep {opts} 'fo[o]' /tmp/g/a.txt")
        assert (fixed.exit_code, fixed.stdout) == (regex.exit_code, regex.stdout), opts


async def test_extended_basic_and_fixed(client, text_vm):
    assert (await sh(client, text_vm, "grep -E 'hello|abc' /tmp/g/a.txt")).stdout == (
        b"hello world\nabc123\n"
    )
    assert (await sh(client, text_vm, r"grep 'hello\|abc' /tmp/g/a.txt")).stdout == (
        b"hello world\nabc123\n"
    )
    assert (await sh(client, text_vm, "grep -E '[0-9]{3}$' /tmp/g/a.txt")).stdout == b"abc123\n"
    await client.fs.write_file(text_vm, "/tmp/g/meta.txt", b"x.y\nxzy\na*b[c]\n")
    assert (await sh(client, text_vm, "grep -F 'x.y' /tmp/g/meta.txt")).stdout == b"x.y\n"
    assert (await sh(client, text_vm, "grep 'x.y' /tmp/g/meta.txt")).stdout == b"x.y\nxzy\n"
    assert (await sh(client, text_vm, "grep -F 'a*b[c]' /tmp/g/meta.txt")).stdout == b"a*b[c]\n"


async def test_multiple_patterns_and_pattern_file(client, text_vm):
    res = await sh(client, text_vm, "grep -e hello -e Baz /tmp/g/a.txt")
    assert res.stdout == b"hello world\nFoo Baz\n"
    await client.fs.write_file(text_vm, "/tmp/g/pats", b"abc\nworld\n")
    res = await sh(client, text_vm, "grep -f /tmp/g/pats /tmp/g/a.txt")
    assert res.stdout == b"hello world\nabc123\n"
    res = await sh(client, text_vm, "grep -- -x /tmp/g/a.txt; grep -e -x /tmp/g/a.txt")
    assert res.exit_code == 1


async def test_recursive_with_relative_paths_after_cd(client, vm_id):
    await client.fs.write_file(vm_id, "/work/proj/src/main.c", b"int main;\n// TODO fix\n", create_dirs=True)
    await client.fs.write_file(vm_id, "/work/proj/src/util/u.h", b"// TODO later\n", create_dirs=True)
    await client.fs.write_file(vm_id, "/work/proj/README", b"nothing to do\n", create_dirs=True)
    res = await sh(client, vm_id, "cd /work/proj && grep -rn TODO")
    assert res.exit_code == 0
    assert res.stdout == b"src/main.c:2:// TODO fix\nsrc/util/u.h:1:// TODO later\n"
    res = await sh(client, vm_id, "cd /work/proj && grep -r TODO src")
    assert res.stdout == b"src/main.c:// TODO fix\nsrc/util/u.h:// TODO later\n"
    res = await sh(client, vm_id, "cd /work/proj/src && grep -rl TODO . --include='*.h'")
    assert res.stdout == b"./util/u.h\n"
    res = await sh(client, vm_id, "cd /work/proj/src && grep TODO main.c")  # relative, no -r
    assert res.stdout == b"// TODO fix\n"
    res = await sh(client, vm_id, "cd /work/proj && grep -rh TODO src")
    assert res.stdout == b"// TODO fix\n// TODO later\n"


async def test_directory_without_recursion_is_an_error(client, text_vm):
    res = await sh(client, text_vm, "grep foo /tmp/g")
    assert (res.exit_code, res.stderr) == (2, b"grep: /tmp/g: Is a directory\n")


async def test_stdin_via_pipe_and_dash(client, vm_id):
    res = await sh(client, vm_id, r"printf 'a\nb\n' | grep b")
    assert (res.exit_code, res.stdout) == (0, b"b\n")
    res = await client.process.exec(vm_id, argv=["grep", "-c", "x"], stdin=b"x\ny\nx\n")
    assert res.stdout == b"2\n"
    res = await sh(client, vm_id, r"printf 'a\n' | grep -H a -")
    assert res.stdout == b"(standard input):a\n"


async def test_egrep_and_fgrep_shims_now_work(client, vm_id):
    res = await sh(client, vm_id, "echo abc | egrep 'a|z'")
    assert (res.exit_code, res.stdout) == (0, b"abc\n")
    res = await sh(client, vm_id, "echo 'a|z' | fgrep 'a|z'")
    assert (res.exit_code, res.stdout) == (0, b"a|z\n")
    res = await sh(client, vm_id, "echo abc | fgrep 'a|z'")
    assert res.exit_code == 1


async def test_missing_file_is_exit_2_with_message(client, text_vm):
    res = await sh(client, text_vm, "grep foo /tmp/g/nope")
    assert (res.exit_code, res.stdout) == (2, b"")
    assert res.stderr == b"grep: /tmp/g/nope: No such file or directory\n"
    # an error beats a match elsewhere (as GNU grep), and -s silences the message
    res = await sh(client, text_vm, "grep -s foo /tmp/g/nope /tmp/g/a.txt")
    assert (res.exit_code, res.stdout, res.stderr) == (2, b"/tmp/g/a.txt:foo bar\n/tmp/g/a.txt:foobar\n", b"")


async def test_long_line(client, vm_id):
    line = b"x" * 100_000 + b"NEEDLE" + b"y" * 1000
    await client.fs.write_file(vm_id, "/tmp/long", b"short\n" + line + b"\nend\n")
    res = await sh(client, vm_id, "grep NEEDLE /tmp/long")
    assert (res.exit_code, res.stdout) == (0, line + b"\n")
    res = await sh(client, vm_id, "grep -o 'xN[A-Z]*y' /tmp/long")
    assert res.stdout == b"xNEEDLEy\n"


async def test_context_max_count_and_binary(client, text_vm):
    res = await sh(client, text_vm, "grep -n -A1 hello /tmp/g/a.txt")
    assert res.stdout == b"1:hello world\n2-foo bar\n"
    res = await sh(client, text_vm, "grep -m1 foo /tmp/g/a.txt")
    assert res.stdout == b"foo bar\n"
    await client.fs.write_file(text_vm, "/tmp/g/bin", b"head\0foo\n")
    res = await sh(client, text_vm, "grep foo /tmp/g/bin")
    assert (res.exit_code, res.stdout, res.stderr) == (0, b"", b"grep: /tmp/g/bin: binary file matches\n")
    res = await sh(client, text_vm, "grep -c foo /tmp/g/bin")
    assert res.stdout == b"1\n"


async def test_binary_input_is_found_by_its_first_nul_as_gnu_grep_does(client, vm_id):
    # GNU grep 3.8's answers, taken on the host. A NUL anywhere in what one read
    # brings in makes the whole input binary, not only the line holding it ...
    await client.fs.write_file(vm_id, "/b/small", b"import a\nfoo\0bar\nimport b\n", create_dirs=True)
    res = await sh(client, vm_id, "grep import /b/small; echo rc=$?")
    assert (res.stdout, res.stderr) == (b"rc=0\n", b"grep: /b/small: binary file matches\n")
    res = await sh(client, vm_id, "grep -A1 import - < /b/small")
    assert (res.stdout, res.stderr) == (b"", b"grep: (standard input): binary file matches\n")
    for options, want in (("-c", b"2\n"), ("-l", b"/b/small\n"), ("-a -n", b"1:import a\n3:import b\n")):
        res = await sh(client, vm_id, f"grep {options} import /b/small")
        assert (res.stdout, res.stderr) == (want, b""), options
    res = await sh(client, vm_id, "grep -I import /b/small; echo rc=$?")
    assert (res.stdout, res.stderr) == (b"rc=1\n", b"")
    # ... and lines printed before the read that brought the NUL stay printed.
    lines = 200_000 // len(b"import line\n")
    await client.fs.write_file(vm_id, "/b/late", b"import line\n" * lines + b"\0\nimport z\n")
    res = await sh(client, vm_id, "grep import /b/late")
    printed = res.stdout.count(b"\n")
    assert 0 < printed < lines and res.stdout == b"import line\n" * printed
    assert res.stderr == b"grep: /b/late: binary file matches\n"
    res = await sh(client, vm_id, "grep -c import /b/late")
    assert res.stdout == b"%d\n" % (lines + 1)


async def test_a_nul_in_binary_input_ends_a_line_as_in_gnu_grep(client, vm_id):
    # what -v, -x and -c select and count (GNU grep 3.8's answers); -a keeps it text
    cases = [
        ("printf 'bin\\0foo\\nfoo\\n' | grep -vc foo", b"1\n"),
        ("printf 'a\\0b\\n' | grep -c -x b", b"1\n"),
        ("printf 'a\\0b\\nc\\n' | grep -c .", b"3\n"),
        ("printf 'a\\0\\0b\\n' | grep -c -v zz", b"3\n"),
        ("printf 'a\\0b\\n' | grep -a -c -x b", b"0\n"),
        ("printf 'a\\0b\\0' | grep -c -v zz", b"2\n"),  # a NUL that ends the input ends its last line
        ("printf 'a\\0b\\0\\n' | grep -c -v zz", b"3\n"),
    ]
    for command, want in cases:
        res = await sh(client, vm_id, command)
        assert res.stdout == want, command


async def test_combined_flags_and_color_never(client, text_vm):
    res = await sh(client, text_vm, "grep -inw --color=never 'foo' /tmp/g/a.txt")
    assert res.stdout == b"2:foo bar\n3:Foo Baz\n"
    res = await sh(client, text_vm, "grep foo /tmp/g/a.txt -c")  # options after operands
    assert res.stdout == b"2\n"


# -- the prefilter: a literal every match needs, searched across the whole buffer ---
#
# grep reads 64 KiB chunks and, when every pattern has a literal its matches must
# contain, searches the chunk for it and hands only the lines holding one to the
# matcher. The same pattern is run three ways (a fixed string; a regex with a
# literal, 'fo[o]'; a group, which gives no literal, so every line goes to the
# matcher as before) over inputs built to hit the edges of that search.

READ_SIZE = 64 * 1024 - 1  # grep keeps one byte of its 64 KiB buffer for a NUL


def _straddling(shift: int) -> bytes:
    """'foo' starting `shift` bytes before the end of grep's first read (3: it ends
    there; 6: its line's newline is that read's last byte), then lines that each
    hold a match."""
    filler = b"x" * (READ_SIZE - shift - 3) + b"\n"
    return filler + b"a foo b\nfoo\n" + b"y foo\n" * 200 + b"Foo\nlast"


PREFILTER_FILES = {
    "text": b"foo bar\nFoo Baz\nfoobar\nxfoo\nfoo_x\na foo b\nbar\n\nFOO\nnothing\r\nfoo\r\n",
    **{f"boundary{shift}": _straddling(shift) for shift in (-1, 0, 1, 2, 3, 6)},
    "long": b"short\n" + b"x" * 150_000 + b"foo" + b"y" * 70_000 + b"\n" + b"z" * 140_000 + b"\nfoo\n",
    "notrail": b"one\nbar foo",
    "binary": b"bin\0foo\nfoo\n",
    "empty": b"",
}
# Only for the oracle below (its output is big): many reads, each after the
# partial line the last one left is moved to the front of the buffer.
MANY_LINES = b"ab foo\nzz\n" * 30_000 + b"foo"
PREFILTER_OPTIONS = [
    "", "-n", "-c", "-l", "-L", "-o", "-v", "-vn", "-vc", "-w", "-x", "-i", "-in", "-io", "-iw", "-ix",
    "-ow", "-h", "-Hn", "-m2", "-n -A1 -B1", "-v -m3 -A1", "-a -n",
]


async def _each_option(client, vm_id: str, pattern: str) -> bytes:
    """One shell running grep with every option set over every file, outputs and exit codes joined."""
    files = " ".join(f"/tmp/p/{name}" for name in PREFILTER_FILES)
    script = "; ".join(
        f"echo '## {opts}'; grep {opts} {pattern} {files} 2>/tmp/err; echo rc=$?; cat /tmp/err" for opts in PREFILTER_OPTIONS
    )
    script += f"; cat /tmp/p/boundary1 | grep -n {pattern}; echo rc=$?"
    res = await sh(client, vm_id, script)
    assert res.exit_code == 0 and res.stderr == b"", res.stderr
    return res.stdout


@pytest.fixture
async def prefilter_vm(client, vm_id):
    for name, data in PREFILTER_FILES.items():
        await client.fs.write_file(vm_id, f"/tmp/p/{name}", data, create_dirs=True)
    await client.fs.write_file(vm_id, "/tmp/many", MANY_LINES)
    return vm_id


async def test_prefiltered_search_selects_what_line_by_line_matching_selects(client, prefilter_vm):
    for spellings in (
        ("foo", "'fo[o]'", "-E '(foo)'"),
        ("-e foo -e bar", "-e 'fo[o]' -e 'ba[r]'", "-E -e '(foo)' -e '(bar)'"),
        ("'fo*bar'", "'f[o]*bar'", "-E '(fo*bar)'"),
        ("'fooo*'", "'fo[o]o*'", "-E '(fooo*)'"),  # the last 'o' is optional
        ("'f\\{1\\}oo'", "'f[o]o'", "-E '(f{1}oo)'"),
        ("-F 'a foo'", "'a fo[o]'", "-E '(a foo)'"),
    ):
        outputs = [await _each_option(client, prefilter_vm, pattern) for pattern in spellings]
        assert outputs[1] == outputs[0], spellings
        assert outputs[2] == outputs[0], spellings


async def test_prefiltered_line_numbers_and_counts_against_python(client, prefilter_vm):
    # An oracle outside grep: which lines hold 'foo', numbered from 1.
    inputs = {f"/tmp/p/{name}": PREFILTER_FILES[name] for name in PREFILTER_FILES if name != "binary"}
    for path, data in {**inputs, "/tmp/many": MANY_LINES}.items():
        lines = data.split(b"\n")
        if data.endswith(b"\n") or not data:
            lines.pop()
        want = b"".join(b"%d:%s\n" % (i, line) for i, line in enumerate(lines, 1) if b"foo" in line)
        res = await sh(client, prefilter_vm, f"grep -n foo {path}")
        assert res.stdout == want, path
        res = await sh(client, prefilter_vm, f"grep -ic foo {path}")
        assert res.stdout == b"%d\n" % sum(b"foo" in line.lower() for line in lines), path


async def test_recursion_opens_listed_files_and_follows_links_only_with_big_r(client, vm_id):
    # Files the listing calls regular are opened without a stat first; symlinks
    # still take the stat path, so -r skips them and -R follows them.
    await client.fs.write_file(vm_id, "/t/d/sub/file", b"foo\n", create_dirs=True)
    await client.fs.write_file(vm_id, "/t/other", b"foo too\n", create_dirs=True)
    res = await sh(client, vm_id, "ln -s /t/other /t/d/link && ln -s /t/d/sub /t/d/dirlink && cd /t/d && grep -r foo")
    assert (res.exit_code, res.stdout) == (0, b"sub/file:foo\n")
    res = await sh(client, vm_id, "cd /t/d && grep -R foo | sort")
    assert res.stdout == b"dirlink/file:foo\nlink:foo too\nsub/file:foo\n"


async def test_absolute_and_relative_paths_hold_in_a_cwd_that_has_a_tmp_of_its_own(client, vm_id):
    # a plain WASI program found /tmp/f under the cwd's tmp/ (wasm/plain_preopens.py)
    await sh(client, vm_id, "mkdir -p /tmp/w/tmp && echo vm > /tmp/f && echo project > /tmp/w/tmp/f")
    res = await client.process.exec(vm_id, argv=["grep", "-r", "", "/tmp/f", "tmp"], cwd="/tmp/w")
    assert (res.exit_code, res.stdout, res.stderr) == (0, b"/tmp/f:vm\ntmp/f:project\n", b"")
