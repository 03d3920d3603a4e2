"""The VMs of one sidecar: creation, lookup and disposal.

A VM is a kernel plus its own tasks (output pumps, waiters: vm_tasks.py, a nursery
opened inside the registry's on first use). The registry's lifetime belongs to the
server's nursery; ``dispose`` cancels the VM's tasks after the kernel has killed
every process and closed every file.
"""

from __future__ import annotations

import secrets
import ssl
import time
from dataclasses import dataclass, field
from typing import Any

import msgspec
import trio

from agentvm_protocol import HostDirMount, MemoryMount, MountConfig, NetworkPolicy, VmConfig

from .client_processes import ClientProcesses
from .kernel.fstypes import CLIENT
from .kernel.kernel import Kernel
from .kernel.limits import Limits
from .logs import get_logger
from .net import EgressPolicy, ListenPolicy
from .net.preview_tokens import VmPreviews
from .rpc.errors import RpcError
from .software.layer import shared_bin_layer, shared_bin_layer_loaded
from .software.library import SoftwareMissingError
from .tools import SecretRules, VmTools
from .tools.audit import AuditLog
from .vm_tasks import VmTasks
from .wasm.module_cache import shared_module_cache

__all__ = ["VM_WORKER_THREADS", "Vm", "VmRegistry", "apply_mount", "build_kernel", "egress_policy"]

log = get_logger("vms")

VM_WORKER_THREADS = 8


@dataclass(eq=False)
class Vm:
    """One live VM."""

    vm_id: str
    config: VmConfig
    kernel: Kernel
    tasks: VmTasks
    processes: ClientProcesses
    # Worker threads for this VM's kernel calls. Per VM, so a VM whose calls are
    # slow (a guest holding its lock, a slow host disk) can use up only its own
    # threads, never those other VMs' requests need.
    threads: trio.CapacityLimiter
    tools: VmTools
    secrets: SecretRules
    # Preview URL signing key and revocations (part of the VM's state, so a snapshot
    # can carry them), and the preview connections proxied to it right now.
    previews: VmPreviews = field(default_factory=VmPreviews)
    # Agent sessions (acp/) running in this VM, by session id; they end with it.
    sessions: dict[str, Any] = field(default_factory=dict)
    created_at_ms: int = field(default_factory=lambda: int(time.time() * 1000))


class VmRegistry:
    """Every live VM of the sidecar, by id."""

    def __init__(self, nursery: trio.Nursery) -> None:
        self._nursery = nursery
        self._vms: dict[str, Vm] = {}

    async def create(self, config: VmConfig) -> Vm:
        """Build a VM's kernel (mounts, /bin layer) and start its task nursery.

        Raises:
            KernelError: a mount in ``config`` cannot be made (ENOENT, ENOTDIR...).
        """
        try:
            if _touches_host_files(config):
                kernel = await trio.to_thread.run_sync(build_kernel, config)
            else:
                # In memory only: about 0.1 ms of CPU and no lock anyone else
                # holds, less than a hop to a worker thread and back costs.
                await trio.lowlevel.checkpoint()
                kernel = build_kernel(config)
        except SoftwareMissingError as exc:
            raise RpcError("unavailable", f"guest software is not set up: {exc}") from None
        vm_id = f"vm-{secrets.token_hex(6)}"
        audit = AuditLog(vm_id)
        try:
            secret_rules = SecretRules.build(config.secrets, audit)
        except ValueError as exc:
            await trio.to_thread.run_sync(kernel.shutdown)
            raise RpcError("invalid_params", f"invalid secrets: {exc}") from None
        tasks = VmTasks(self._nursery)
        threads = trio.CapacityLimiter(VM_WORKER_THREADS)
        # The guest sees placeholders, never values (tools/secrets.py).
        processes = ClientProcesses(vm_id, kernel, {**secret_rules.env(), **config.env}, config.cwd, tasks, threads)
        tools = VmTools(vm_id, kernel, tasks, processes.set_default_env, audit)
        kernel.sockets.request_filter = secret_rules.filter_for
        tools.write_docs_blocking()  # no guest runs in this VM yet, so nothing holds its lock
        vm = Vm(
            vm_id=vm_id, config=config, kernel=kernel, tasks=tasks, processes=processes, threads=threads,
            tools=tools, secrets=secret_rules,
        )
        self._vms[vm_id] = vm
        log.info("vm_created", vm_id=vm_id, mounts=len(config.mounts))
        return vm

    def get(self, vm_id: str) -> Vm:
        """The VM named ``vm_id``; ``not_found`` otherwise."""
        vm = self._vms.get(vm_id)
        if vm is None:
            raise RpcError("not_found", f"no VM {vm_id!r}")
        return vm

    def all(self) -> list[Vm]:
        return list(self._vms.values())

    async def dispose(self, vm_id: str) -> None:
        """Kill the VM's processes, close its files and forget it."""
        vm = self._vms.pop(vm_id, None)
        if vm is None:
            raise RpcError("not_found", f"no VM {vm_id!r}")
        vm.previews.close()
        if vm.kernel.shutdown_nowait():  # nothing to wait for: no thread hop (about 0.1 ms)
            await trio.lowlevel.checkpoint()
        else:
            await trio.to_thread.run_sync(vm.kernel.shutdown)
        vm.secrets.close()
        shared_module_cache().release(vm.kernel)  # the guest-built modules only it used
        vm.tasks.cancel()
        log.info("vm_disposed", vm_id=vm_id)

    async def dispose_all(self) -> None:
        """Dispose every VM (on shutdown)."""
        for vm_id in list(self._vms):
            await self.dispose(vm_id)


def build_kernel(config: VmConfig) -> Kernel:
    """A kernel configured as ``config`` says: limits, /bin layer, mounts in order.

    Raises:
        KernelError: a mount cannot be made.
        RpcError: invalid_params for a malformed network or listen config.
        SoftwareMissingError: ``software`` is set but the packages are not fetched.
    """
    # network config is checked before anything (host mounts) is opened
    if config.listen.port_min > config.listen.port_max:
        raise RpcError("invalid_params", "listen.portMin must be <= listen.portMax")
    listen = ListenPolicy(config.listen.port_min, config.listen.port_max, config.listen.allow_privileged)
    egress = egress_policy(config.network)
    kernel = Kernel(Limits(**msgspec.structs.asdict(config.limits)))
    kernel.vfs.mkdir(config.cwd, 0o755, recursive=True, cred=CLIENT)
    if config.software:
        layer = shared_bin_layer()
        kernel.mount_layer("/bin", layer.fs, layer.modules)
    for mount in config.mounts:
        apply_mount(kernel, mount)
    kernel.sockets.set_listen(listen)
    kernel.sockets.set_egress(egress)
    return kernel


def _touches_host_files(config: VmConfig) -> bool:
    """Whether building ``config``'s kernel opens host files: a host_dir mount,
    the first load of the /bin layer (which reads the fetched packages), or CA
    certificates (checking one loads the system's trust store)."""
    return (
        any(isinstance(m, HostDirMount) for m in config.mounts)
        or (config.software and not shared_bin_layer_loaded())
        or bool(config.network.ca_certificates)
    )


def egress_policy(network: NetworkPolicy) -> EgressPolicy:
    """The kernel-side policy of a wire ``NetworkPolicy``.

    Raises: RpcError invalid_params (a malformed pattern, override or CA certificate).
    """
    try:
        policy = EgressPolicy.build(
            network.default,
            ((rule.mode, rule.operations, rule.patterns) for rule in network.rules),
            network.dns_overrides,
            network.ca_certificates,
        )
        for pem in policy.ca_certificates:
            ssl.create_default_context().load_verify_locations(cadata=pem)
    except (ValueError, ssl.SSLError) as exc:
        raise RpcError("invalid_params", f"invalid network policy: {exc}") from None
    return policy


def apply_mount(kernel: Kernel, mount: MountConfig) -> None:
    """Mount one described filesystem, creating the mount point directory (and its
    parents) when missing, so a mount works "at any path". Raises: KernelError."""
    kernel.vfs.mkdir(mount.path, 0o755, recursive=True, cred=CLIENT)
    if isinstance(mount, MemoryMount):
        kernel.mount_memory(mount.path)
    elif isinstance(mount, HostDirMount):
        kernel.mount_host_dir(mount.path, mount.host_path, mount.read_only, mount.max_bytes, mount.max_inodes)
