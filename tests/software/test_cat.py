"""agentvm's own `cat` (software/commands/cat.c), end to end through the sidecar.

It replaces the package's uutils cat, which on WASI refused every named input that
is not a regular file ("unknown filetype": `cat /dev/null`). Its output is compared
with the host's GNU cat over the same inputs and options."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

import pytest

from agentvm_sidecar.software import SoftwareLibrary
from agentvm_sidecar.software.layer import build_bin_layer
from tests.process.conftest import sh
from tests.software.conftest import built_command

# tabs, a control byte, DEL, bytes over 127, runs of empty lines, and no final newline
ODD = b"a\tb\n\n\n\nc\x01d\x7f\xe9\xff\n\n\xc3\xa9 end"
PLAIN = b"one\n\ntwo\n"
OPTIONS = ["", "-n", "-b", "-s", "-E", "-T", "-v", "-A", "-e", "-t", "-u", "-ns", "-bs", "-sE", "-nbT",
           "--number --squeeze-blank", "--show-all", "--show-nonprinting --show-ends"]


@pytest.fixture(scope="module", autouse=True)
def cat_module() -> Path:
    return built_command("cat")


def test_the_layer_has_our_cat_in_place_of_the_package_s(cat_module: Path, library: SoftwareLibrary) -> None:
    assert "cat" in library.commands()  # the package still ships one
    layer = build_bin_layer(library)
    stat = layer.fs.getattr(layer.fs.lookup(layer.fs.root(), "cat"))
    digest, _ = layer.modules[stat.ino]
    assert digest == hashlib.sha256(cat_module.read_bytes()).hexdigest()
    assert [info.package for info in layer.listing if info.name == "cat"] == ["agentvm"]


async def test_devices_pipes_and_process_substitution_are_read(client, vm_id) -> None:
    # each of these was "cat: ...: unknown filetype" with the package's cat
    for command, out in [
        ("cat /dev/null", b""),
        ("echo hi | cat /dev/stdin", b"hi\n"),
        ("cat <(echo x) <(echo y)", b"x\ny\n"),
        ("head -c 3 /dev/zero | cat - /dev/null | wc -c", b"3\n"),
        ("cat /dev/zero | head -c 5 | wc -c", b"5\n"),
    ]:
        res = await sh(client, vm_id, command)
        assert (res.exit_code, res.stdout, res.stderr) == (0, out, b""), command


@pytest.mark.skipif(shutil.which("cat") is None, reason="no host cat to compare with")
async def test_every_option_formats_as_gnu_cat_does(client, vm_id, tmp_path: Path) -> None:
    await client.fs.write_file(vm_id, "/tmp/c/odd", ODD, create_dirs=True)
    await client.fs.write_file(vm_id, "/tmp/c/plain", PLAIN)
    (tmp_path / "odd").write_bytes(ODD)
    (tmp_path / "plain").write_bytes(PLAIN)
    for options in OPTIONS:
        # two files: line numbers, squeezing and the open last line carry on
        host = subprocess.run(f"cat {options} odd plain", shell=True, cwd=tmp_path, capture_output=True, check=True)
        res = await sh(client, vm_id, f"cd /tmp/c && cat {options} odd plain")
        assert (res.exit_code, res.stdout) == (0, host.stdout), options


async def test_a_bad_operand_is_reported_and_the_others_still_read(client, vm_id) -> None:
    await client.fs.write_file(vm_id, "/tmp/c/plain", PLAIN, create_dirs=True)
    res = await sh(client, vm_id, "cat /tmp/c/missing /tmp/c /tmp/c/plain")
    assert res.exit_code == 1
    assert res.stdout == PLAIN
    assert res.stderr == b"cat: /tmp/c/missing: No such file or directory\ncat: /tmp/c: Is a directory\n"
    res = await sh(client, vm_id, "cat /tmp/c/plain >> /tmp/c/plain")
    assert (res.exit_code, res.stderr) == (1, b"cat: /tmp/c/plain: input file is output file\n")
    assert (await client.fs.read_file(vm_id, "/tmp/c/plain")).data == PLAIN


async def test_bad_options_and_help(client, vm_id) -> None:
    res = await sh(client, vm_id, "cat -z")
    assert res.exit_code == 1 and b"invalid option -- 'z'" in res.stderr
    res = await sh(client, vm_id, "cat --nope")
    assert res.exit_code == 1 and b"unrecognized option '--nope'" in res.stderr
    res = await sh(client, vm_id, "cat --help")
    assert res.exit_code == 0 and res.stdout.startswith(b"Usage: cat [OPTION]... [FILE]...")
    res = await sh(client, vm_id, "echo -n | cat -- -")
    assert (res.exit_code, res.stdout) == (0, b"")


async def test_absolute_and_relative_paths_hold_in_a_cwd_that_has_a_tmp_of_its_own(client, vm_id) -> None:
    # a plain WASI program found /tmp/f under the cwd's tmp/ (wasm/plain_preopens.py)
    await sh(client, vm_id, "mkdir -p /tmp/w/tmp && echo vm > /tmp/f && echo project > /tmp/w/tmp/f")
    res = await client.process.exec(vm_id, argv=["cat", "/tmp/f", "tmp/f", "../f"], cwd="/tmp/w")
    assert (res.exit_code, res.stdout, res.stderr) == (0, b"vm\nproject\nvm\n", b"")
