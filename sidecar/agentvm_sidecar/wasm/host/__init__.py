"""The agentOS host ABI (everything the pinned guests import besides WASI preview1):
``host_process``, ``host_fs``, ``host_user``, ``host_tty`` and ``host_net``.

Importing this package registers the 43 host functions with
:func:`~agentvm_sidecar.wasm.abi.host_function`; the runtime defines them in its
linker. The contract is /tmp/agentvm-notes/host_abi.md (sections 2-9): WASI errno
numbering, u32 out-pointers validated before side effects, Linux numbers for
signals, ``O_*`` flags and sigprocmask/waitpid constants.
"""

from . import fs, net, process, tty, user

__all__ = ["fs", "net", "process", "tty", "user"]
