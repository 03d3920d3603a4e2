"""The protocol fuzzer: generated frames fed to ONE sidecar over its stdin, in batches
(and again to a sidecar routing to two worker processes).

Invariant (as h11's fuzz harness states its own): whatever arrives -- malformed JSON,
wrong types, huge numbers, deep nesting, oversized frames, unknown methods, requests
for disposed VMs, a dispose racing an exec -- the sidecar never dies, every output
line is a valid JSON-RPC 2.0 message, every request whose id is readable gets exactly
one answer with that id, and no answer is an ``internal`` error.

A default run sends at least FRAMES_PER_RUN frames (batches of BATCH); the sidecar
runs with a small maxFrameBytes so oversized frames are cheap to make.
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from agentvm_protocol import METHODS

from .canary import ThreadedCanary

BATCH = 100
EXAMPLES = 101
FRAMES_PER_RUN = BATCH * EXAMPLES  # plus one create, one sentinel per batch
MAX_FRAME = 65536
ANSWER_TIMEOUT_S = 120  # generous: a full-suite run on 2 busy cores is slow


class FuzzedSidecar:
    """A sidecar subprocess with a reader thread that files every output line."""

    def __init__(self, workers: int = 0) -> None:
        # Errors only (quiet while every request is answered as it should be), kept
        # for the message of a failed check: an internal error's traceback.
        self.stderr = tempfile.TemporaryFile()  # noqa: SIM115 (closed in close())
        self.proc = subprocess.Popen(
            [
                sys.executable, "-m", "agentvm_sidecar", "--stdio", "--log-level", "error", "--max-frame-bytes", str(MAX_FRAME),
                "--workers", str(workers),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.stderr,
        )
        self.answers: dict[str, list[dict]] = {}
        self.idless: list[dict] = []
        self.invalid: list[bytes] = []
        self.cond = threading.Condition()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        self.seq = 0
        self.sending = threading.Lock()
        self.frames_by_id: dict[str, bytes] = {}
        self._canary_ids = itertools.count()
        self.canary = ThreadedCanary(self.canary_call, self.proc.pid)

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            with self.cond:
                self._file(line.rstrip(b"\n"))
                self.cond.notify_all()
        with self.cond:
            self.cond.notify_all()

    def _file(self, line: bytes) -> None:
        try:
            msg = json.loads(line)
        except ValueError:
            self.invalid.append(line)
            return
        if not valid_message(msg):
            self.invalid.append(line)
        elif "method" in msg:
            return  # events
        elif msg["id"] is None:
            self.idless.append(msg)
        else:
            self.answers.setdefault(json.dumps(msg["id"]), []).append(msg)

    def send(self, lines: list[bytes]) -> None:
        assert self.proc.stdin is not None
        with self.sending:  # the canary's thread sends too
            self.proc.stdin.write(b"".join(lines))
            self.proc.stdin.flush()

    def wait_for(self, ids: list[Any]) -> dict[str, dict]:
        keys = [json.dumps(i) for i in ids]
        with self.cond:
            done = self.cond.wait_for(
                lambda: all(k in self.answers for k in keys) or self.proc.poll() is not None, timeout=ANSWER_TIMEOUT_S
            )
        assert self.proc.poll() is None, f"the sidecar died (status {self.proc.returncode})"
        missing = [k for k in keys if k not in self.answers]
        assert done and not missing, f"no answer to {[self.frames_by_id.get(k, k)[:300] for k in missing[:3]]}"
        return {k: self.answers[k][0] for k in keys}

    def call(self, method: str, params: Any) -> dict:
        req_id = self.new_id()
        self.send([frame({"jsonrpc": "2.0", "id": req_id, "method": method, "params": params})])
        return self.wait_for([req_id])[json.dumps(req_id)]

    def new_id(self) -> str:
        self.seq += 1
        return f"fz{self.seq}"

    def canary_call(self, method: str, params: Any) -> Any:
        """The canary's blocking call, from its own thread: ids of its own (``seq``
        belongs to the fuzzing thread), the result or an AssertionError."""
        req_id = f"canary{next(self._canary_ids)}"
        self.send([frame({"jsonrpc": "2.0", "id": req_id, "method": method, "params": params})])
        reply = self.wait_for([req_id])[json.dumps(req_id)]
        assert "result" in reply, reply
        return reply["result"]

    def log_tail(self, size: int = 4000) -> str:
        """The end of what the sidecar logged (errors only)."""
        self.stderr.seek(0, os.SEEK_END)
        self.stderr.seek(max(0, self.stderr.tell() - size))
        return self.stderr.read().decode(errors="replace")

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait()
        self.stderr.close()


def valid_message(msg: Any) -> bool:
    """A JSON-RPC 2.0 response (result xor error object) or notification."""
    if not isinstance(msg, dict) or msg.get("jsonrpc") != "2.0":
        return False
    if "method" in msg:
        return isinstance(msg["method"], str) and "id" not in msg
    if not isinstance(msg.get("id"), (str, int, type(None))) or ("result" in msg) == ("error" in msg):
        return False
    if "error" in msg:
        err = msg["error"]
        return isinstance(err.get("code"), int) and isinstance(err.get("message"), str) and isinstance(err["data"]["kind"], str)
    return True


def frame(obj: Any) -> bytes:
    return json.dumps(obj).encode() + b"\n"


# One process, and a router in front of two workers (sidecar/agentvm_sidecar/workers/),
# which parses the same frames and must hold the same invariant.
@pytest.fixture(scope="module", params=[0, 2], ids=["one process", "2 workers"])
def fuzzed(request: pytest.FixtureRequest) -> Iterator[FuzzedSidecar]:
    side = FuzzedSidecar(request.param)
    try:
        assert "result" in side.call("hello", {"protocolVersion": 1})
        side.live_vm = side.call("vm.create", {"config": {"software": True}})["result"]["vmId"]
        gone = side.call("vm.create", {"config": {"software": False}})["result"]["vmId"]
        side.call("vm.dispose", {"vmId": gone})
        side.disposed_vm = gone
        side.canary.start()  # stopped, with its verdict, by the attack test below
        yield side
    finally:
        side.close()


# -- what a frame can be ---------------------------------------------------------------
json_leaf = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20)
json_value = st.recursive(json_leaf, lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=8), c, max_size=4), max_leaves=12)
huge_number = st.sampled_from(["1" * 400, "-1e999", "1e400", "9" * 30, "-0", "1.5e308", "123456789012345678901234567890"])
field_names = st.sampled_from(["vmId", "path", "offset", "length", "data", "argv", "command", "pid", "timeoutMs", "paths", "recursive", "config"])
# fs.mount and vm.create with arbitrary params could mount a host directory: not fuzzed.
methods = st.sampled_from(sorted(set(METHODS) - {"hello", "fs.mount", "vm.create"})) | st.text(max_size=12)

# A frame is (bytes, expects_answer): expects_answer is the id when the frame is a
# well-formed request whose id the sidecar can read.
Frame = tuple[bytes, bool]


@st.composite
def request_frames(draw: st.DrawFn) -> tuple[dict, bool]:
    params: Any = draw(st.dictionaries(field_names, json_value | st.just("VMID") | st.just("GONE"), max_size=4) | json_value)
    return {"jsonrpc": "2.0", "method": draw(methods), "params": params}, True


@st.composite
def raw_frames(draw: st.DrawFn) -> tuple[bytes, bool]:
    kind = draw(st.sampled_from(["garbage", "huge_number", "deep", "oversized", "wrong_types", "notification"]))
    if kind == "garbage":
        return draw(st.binary(max_size=200)).replace(b"\n", b" "), False
    if kind == "huge_number":
        name = draw(field_names)
        return b'{"jsonrpc":"2.0","id":@ID@,"method":"fs.readFile","params":{"vmId":"VMID","' + name.encode() + b'":' + draw(huge_number).encode() + b"}}", True
    if kind == "deep":
        depth = draw(st.integers(min_value=40, max_value=5000))
        return b'{"jsonrpc":"2.0","id":@ID@,"method":"vm.list","params":' + b"[" * depth + b"]" * depth + b"}", True
    if kind == "oversized":
        return b'{"jsonrpc":"2.0","id":@ID@,"method":"vm.list","params":{"pad":"' + b"x" * (MAX_FRAME + 10) + b'"}}', False
    if kind == "wrong_types":
        bad = draw(st.sampled_from([b'"id":1.5', b'"id":[1]', b'"id":true', b'"id":{}', b'"method":7,"id":@ID@', b'"params":"x","method":"vm.list","id":@ID@', b'"jsonrpc":"1.0","method":"vm.list","id":@ID@']))
        answered = b"@ID@" in bad
        return b'{"jsonrpc":"2.0",' + bad + b"}" if not bad.startswith(b'"jsonrpc"') else b"{" + bad + b"}", answered
    return b'{"jsonrpc":"2.0","method":"$/cancelRequest","params":{"id":@ID@}}', False


frames = request_frames() | raw_frames()


def render(side: FuzzedSidecar, spec: tuple[Any, bool], vm_id: str) -> tuple[bytes, str | None]:
    body, answered = spec
    req_id = side.new_id()
    if isinstance(body, dict):
        text = json.dumps(dict(body, id=req_id)).encode()
    else:  # only hand-made frames carry the @ID@ placeholder (random text may hold "ID")
        text = body.replace(b"@ID@", json.dumps(req_id).encode())
    text = text.replace(b'"VMID"', json.dumps(vm_id).encode()).replace(b'"GONE"', json.dumps(side.disposed_vm).encode())
    return text + b"\n", req_id if answered else None


# No shrinking: a failing batch is printed whole, and shrinking 100-frame batches
# against a live process takes longer than reading them.
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    phases=(Phase.explicit, Phase.reuse, Phase.generate),
)
@given(batch=st.lists(frames, min_size=BATCH, max_size=BATCH), race=st.booleans())
def test_the_sidecar_answers_every_fuzzed_request_and_never_dies(fuzzed, batch, race):
    # A fresh VM per batch, used by the batch's requests and, with `race`, disposed
    # while an exec in it is still running.
    vm_id = fuzzed.call("vm.create", {"config": {"software": True}})["result"]["vmId"]
    lines, expected = [], []
    for spec in batch:
        line, req_id = render(fuzzed, spec, vm_id)
        lines.append(line)
        fuzzed.frames_by_id[json.dumps(req_id)] = line
        if req_id is not None:
            expected.append(req_id)
    # The batch ends by disposing its VM, which also ends requests that wait
    # legitimately (process.wait on a fuzzed spawn); with `race` an exec runs into it.
    closing = [("process.exec", {"vmId": vm_id, "argv": ["echo", "race"]})] if race else []
    for method, params in [*closing, ("vm.dispose", {"vmId": vm_id})]:
        req_id = fuzzed.new_id()
        lines.append(frame({"jsonrpc": "2.0", "id": req_id, "method": method, "params": params}))
        expected.append(req_id)
    sentinel = fuzzed.new_id()
    lines.append(frame({"jsonrpc": "2.0", "id": sentinel, "method": "vm.list", "params": {}}))
    fuzzed.send(lines)
    answers = fuzzed.wait_for([*expected, sentinel])
    assert not fuzzed.invalid, fuzzed.invalid[:3]
    internal = [a for a in answers.values() if "error" in a and a["error"]["data"]["kind"] == "internal"]
    assert not internal, (
        internal[:3], [fuzzed.frames_by_id.get(json.dumps(a["id"]), b"")[:300] for a in internal[:3]], fuzzed.log_tail()
    )
    assert all(len(fuzzed.answers[json.dumps(i)]) == 1 for i in expected)


@pytest.mark.attack("10,000 fuzzed frames: malformed JSON, wrong types, huge numbers, deep nesting, oversized, unknown methods, disposed VMs, dispose racing exec")
def test_fuzzing_leaves_the_sidecar_serving(fuzzed, request):
    if fuzzed.seq < FRAMES_PER_RUN:
        # The fuzz test ran on another xdist worker, against that worker's
        # sidecar (pytest-xdist's loadgroup does not keep a module together
        # under this pytest): fuzz this one first.
        test_the_sidecar_answers_every_fuzzed_request_and_never_dies(fuzzed)
    reply = fuzzed.call("vm.list", {})
    fuzzed.canary.stop(request)
    assert "result" in reply
    assert fuzzed.seq >= FRAMES_PER_RUN, "run the fuzz test first (same module)"
