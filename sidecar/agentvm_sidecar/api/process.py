"""``process.*`` handlers: thin adapters over the VM's ClientProcesses."""

from __future__ import annotations

from collections.abc import Awaitable

import trio

from agentvm_protocol import (
    Empty,
    ProcessAckOutputParams,
    ProcessCloseStdinParams,
    ProcessExecParams,
    ProcessExecResult,
    ProcessInfo,
    ProcessKillParams,
    ProcessListParams,
    ProcessListResult,
    ProcessSpawnParams,
    ProcessSpawnResult,
    ProcessTreeNode,
    ProcessTreeParams,
    ProcessTreeResult,
    ProcessWaitParams,
    ProcessWaitResult,
    ProcessWriteStdinParams,
)

from ..kernel.process import SIGNAL_NAMES, SIGNALS, Process, ProcessState
from ._registry import RequestContext, handler
from ._wire_text import wire_text, wire_texts


@handler("process.exec")
def process_exec(ctx: RequestContext, p: ProcessExecParams) -> Awaitable[ProcessExecResult]:
    # not async: the process starts when the connection's reader calls this
    # (ClientProcesses.exec), before the request's task is scheduled
    return ctx.vms.get(p.vm_id).processes.exec(p)


@handler("process.spawn")
async def process_spawn(ctx: RequestContext, p: ProcessSpawnParams) -> ProcessSpawnResult:
    return ProcessSpawnResult(pid=await ctx.vms.get(p.vm_id).processes.spawn(p, ctx.emit))


@handler("process.ackOutput")
async def process_ack_output(ctx: RequestContext, p: ProcessAckOutputParams) -> Empty:
    ctx.vms.get(p.vm_id).processes.ack_output(p.pid, p.consumed)
    await trio.lowlevel.checkpoint()
    return Empty()


@handler("process.writeStdin")
async def process_write_stdin(ctx: RequestContext, p: ProcessWriteStdinParams) -> Empty:
    await ctx.vms.get(p.vm_id).processes.write_stdin(p.pid, p.data)
    return Empty()


@handler("process.closeStdin")
async def process_close_stdin(ctx: RequestContext, p: ProcessCloseStdinParams) -> Empty:
    await ctx.vms.get(p.vm_id).processes.close_stdin(p.pid)
    return Empty()


@handler("process.kill")
async def process_kill(ctx: RequestContext, p: ProcessKillParams) -> Empty:
    ctx.vms.get(p.vm_id).processes.kill(p.pid, SIGNALS[p.signal])
    await trio.lowlevel.checkpoint()
    return Empty()


@handler("process.wait")
async def process_wait(ctx: RequestContext, p: ProcessWaitParams) -> ProcessWaitResult:
    status = await ctx.vms.get(p.vm_id).processes.wait(p.pid, p.timeout_ms)
    return ProcessWaitResult(exit_code=status.shell_code, signal=SIGNAL_NAMES.get(status.signal) if status.signal else None)


def _info(proc: Process) -> ProcessInfo:
    exited = proc.state is ProcessState.EXITED
    argv, argv_bytes = wire_texts(list(proc.argv))
    cwd, cwd_bytes = wire_text(proc.cwd)
    return ProcessInfo(
        pid=proc.pid,
        ppid=proc.ppid,
        argv=argv,
        cwd=cwd,
        argv_bytes=argv_bytes,
        cwd_bytes=cwd_bytes,
        state="exited" if exited else "running",
        exit_code=proc.status.shell_code if exited and proc.status else None,
    )


@handler("process.list")
async def process_list(ctx: RequestContext, p: ProcessListParams) -> ProcessListResult:
    await trio.lowlevel.checkpoint()
    return ProcessListResult(processes=[_info(proc) for proc in ctx.vms.get(p.vm_id).kernel.processes.all()])


@handler("process.tree")
async def process_tree(ctx: RequestContext, p: ProcessTreeParams) -> ProcessTreeResult:
    await trio.lowlevel.checkpoint()
    procs = ctx.vms.get(p.vm_id).kernel.processes.all()
    nodes = {proc.pid: ProcessTreeNode(process=_info(proc)) for proc in procs}
    roots = []
    for proc in procs:
        parent = nodes.get(proc.ppid)
        (parent.children if parent is not None else roots).append(nodes[proc.pid])
    return ProcessTreeResult(roots=roots)
