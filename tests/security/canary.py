"""The canary: while an attack runs, a second VM in the same sidecar must keep
answering, and the sidecar's memory growth is measured.

One mechanism for every attack of the suite, whatever carries its requests: the
canary speaks plain JSON-RPC through a ``call(method, params) -> result`` function
(``AsyncClient.call_raw``, ``RawSidecar.result``, or a thread-bridged call for the
fuzzer's synchronous pipe), so the same probes run next to client, raw-wire and
fuzzed attacks.

A probe is one ``fs.stat`` and one short exec in the bystander VM. At the end one
more probe runs, and the canary asserts that the sidecar is alive, that no probe
failed, and that every probe answered within ``CANARY_BOUND_S``: the guest is allowed
to fail, not to starve its neighbours or take the sidecar down. The bound is a
liveness bound, generous for a noisy 2-core machine (override with
AGENTVM_CANARY_BOUND_S), not a benchmark.

Memory: the sidecar's peak resident set (VmHWM) is reset when the canary starts
(/proc/<pid>/clear_refs), so ``growth`` is the attack's peak over the starting RSS,
with no sampling gap; ``reset_memory`` starts the measure again after a test's setup.
"""

from __future__ import annotations

import os
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
import trio

CANARY_BOUND_S = float(os.environ.get("AGENTVM_CANARY_BOUND_S", "5"))
# Recorded in the test's user_properties: that a canary watched it, and whether the
# sidecar died (read by tests/security/report.py).
CANARY_PROPERTY = "canary"
CRASH_PROPERTY = "sidecar_crashed"
_PROBE_PAUSE_S = 0.2

Call = Callable[[str, Any], Awaitable[Any]]


def _status_kib(pid: int, key: str) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise AssertionError(f"no {key} for {pid}")


def sidecar_alive(pid: int) -> bool:
    """The process exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except OSError:
        return False


@dataclass
class Canary:
    """A bystander VM, what its probes saw, and the sidecar's memory."""

    call: Call
    sidecar_pid: int
    vm_id: str = ""
    bound_s: float = CANARY_BOUND_S
    latencies: list[float] = field(default_factory=list)
    failure: BaseException | None = None
    baseline_rss: int = 0

    async def start(self) -> None:
        self.vm_id = (await self.call("vm.create", {}))["vmId"]
        await self.probe_once()  # warm: the first exec may compile `echo`
        self.latencies.clear()
        self.reset_memory()

    def reset_memory(self) -> None:
        """Measure ``growth`` from now on (an attack's setup is not the attack)."""
        with open(f"/proc/{self.sidecar_pid}/clear_refs", "w") as f:
            f.write("5")  # VmHWM := VmRSS (Linux >= 4.0)
        self.baseline_rss = _status_kib(self.sidecar_pid, "VmRSS") * 1024

    async def probe_once(self) -> None:
        """One ``fs.stat`` and one short exec, timed together."""
        start = trio.current_time()
        await self.call("fs.stat", {"vmId": self.vm_id, "path": "/"})
        out = await self.call("process.exec", {"vmId": self.vm_id, "argv": ["echo", "alive"], "timeoutMs": 60_000})
        assert (out["exitCode"], out["stdout"]) == (0, "YWxpdmUK"), out  # base64 of "alive\n"
        self.latencies.append(trio.current_time() - start)

    async def probe_forever(self) -> None:
        try:
            while True:
                with trio.move_on_after(self.bound_s * 4) as scope:
                    await self.probe_once()
                if scope.cancelled_caught:
                    self.latencies.append(float("inf"))
                await trio.sleep(_PROBE_PAUSE_S)
        except Exception as exc:  # recorded, asserted at the end
            self.failure = exc

    async def last_probe(self) -> None:
        """One probe after the attack, whatever the timing was."""
        if self.failure is None:
            try:
                with trio.fail_after(self.bound_s * 4):
                    await self.probe_once()
            except Exception as exc:
                self.failure = exc

    @property
    def worst(self) -> float:
        return max(self.latencies, default=0.0)

    @property
    def growth(self) -> int:
        """How far the sidecar's resident memory rose above where it was at the start."""
        return _status_kib(self.sidecar_pid, "VmHWM") * 1024 - self.baseline_rss

    def verdict(self, request: pytest.FixtureRequest) -> None:
        """Record the outcome for the report, then fail if the bystander suffered."""
        crashed = not sidecar_alive(self.sidecar_pid)
        request.node.user_properties.append((CANARY_PROPERTY, True))
        request.node.user_properties.append((CRASH_PROPERTY, crashed))
        assert not crashed, "the sidecar died during the attack"
        assert self.failure is None, f"canary VM failed during the attack: {self.failure!r}"
        assert self.worst <= self.bound_s, f"canary VM answered after {self.worst:.1f} s (bound {self.bound_s} s)"


def bound_for(node: pytest.Item) -> float:
    """CANARY_BOUND_S, or the test's ``canary_bound(seconds)`` marker: an attack that
    is fair load (200 VMs all running at once) makes every VM, the canary's too,
    wait its turn; the canary then proves the sidecar serves everyone, in a bound
    that grows with the load, rather than that one VM is unaffected."""
    marker = node.get_closest_marker("canary_bound")
    return float(marker.args[0]) if marker is not None else CANARY_BOUND_S


@asynccontextmanager
async def guarding(call: Call, sidecar_pid: int, request: pytest.FixtureRequest) -> AsyncIterator[Canary]:
    """Probe a new bystander VM through ``call`` for the duration of the block."""
    bird = Canary(call, sidecar_pid, bound_s=bound_for(request.node))
    await bird.start()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(bird.probe_forever)
        yield bird
        nursery.cancel_scope.cancel()
    await bird.last_probe()
    bird.verdict(request)


class ThreadedCanary:
    """The canary for a synchronous test: a trio loop on its own thread probing
    through a blocking ``call`` (run on worker threads). ``stop`` ends it and gives
    the verdict on the test that asks."""

    def __init__(self, blocking_call: Callable[[str, Any], Any], sidecar_pid: int) -> None:
        self._blocking_call = blocking_call
        self.bird = Canary(self._call, sidecar_pid)
        self._started = threading.Event()
        self._token: trio.lowlevel.TrioToken | None = None
        self._stopping: trio.Event | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    async def _call(self, method: str, params: Any) -> Any:
        return await trio.to_thread.run_sync(self._blocking_call, method, params, abandon_on_cancel=True)

    def _run(self) -> None:
        async def main() -> None:
            await self.bird.start()
            self._token = trio.lowlevel.current_trio_token()
            self._stopping = trio.Event()
            self._started.set()
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self.bird.probe_forever)
                await self._stopping.wait()
                nursery.cancel_scope.cancel()
            await self.bird.last_probe()

        try:
            trio.run(main)
        except BaseException as exc:  # handed to the test's thread
            self._error = exc
        finally:
            self._started.set()

    def start(self) -> None:
        self._thread.start()
        self._started.wait()
        if self._stopping is None:  # bird.start() failed
            self._thread.join()
            raise AssertionError("the canary could not start") from self._error

    def stop(self, request: pytest.FixtureRequest) -> Canary:
        assert self._token is not None and self._stopping is not None
        trio.from_thread.run_sync(self._stopping.set, trio_token=self._token)
        self._thread.join()
        if self._error is not None:
            raise self._error
        self.bird.verdict(request)
        return self.bird
