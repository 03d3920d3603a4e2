# The default VM tree: what a fresh VM's root filesystem contains.
#
#   /            0755 root
#   /bin         0755 root   (a read-only shared package layer is mounted here later)
#   /usr/bin     0755 root   env, sh, bash, python3: symlinks into /bin (for #!/usr/bin/env ...)
#   /usr/local/bin 0755 root (empty; first in the default PATH, for tools users install)
#   /etc         0755 root   passwd, group (root=0, user=1000), hostname, hosts, os-release
#   /home/user   0755 user   (uid/gid 1000, the guest's HOME)
#   /tmp         1777 root   (sticky: users can only remove their own files)
#   /dev         0755 root   (empty; device nodes belong to other engineers)
#
# Everything here is charged to the VM's FsAccounting like guest data.

from __future__ import annotations

import time

from .fstypes import USER
from .limits import FsAccounting
from .memfs import MemoryFs

__all__ = ["GROUP", "PASSWD", "USR_BIN_LINKS", "make_root_fs"]

# Scripts name these by their usual /usr/bin paths (`#!/usr/bin/env bash`,
# `#!/usr/bin/python3`).
USR_BIN_LINKS = ("env", "sh", "bash", "python3")

PASSWD = (
    "root:x:0:0:root:/root:/bin/sh\n"
    f"user:x:{USER.uid}:{USER.gid}:user:/home/user:/bin/sh\n"
).encode()
GROUP = (f"root:x:0:\nuser:x:{USER.gid}:\n").encode()
# The guest packages' uname/hostname report "agentos" (built in); /etc agrees.
HOSTNAME = b"agentos\n"
HOSTS = b"127.0.0.1\tlocalhost agentos\n::1\tlocalhost agentos\n"
OS_RELEASE = (
    b'NAME="agentvm"\nID=agentvm\nPRETTY_NAME="agentvm (WebAssembly VM)"\n'
)


def make_root_fs(accounting: FsAccounting | None = None) -> MemoryFs:
    """A new MemoryFs holding the default VM tree (see module header).

    Raises: KernelError ENOSPC if the accounting cannot hold the tree.
    """
    fs = MemoryFs(accounting, root_mode=0o755, created_at=time.time_ns())
    for path in ("/bin", "/usr/bin", "/usr/local/bin", "/etc", "/dev"):
        fs.mkdirs(path, 0o755)
    fs.mkdirs("/root", 0o700)
    fs.mkdirs("/home", 0o755)
    fs.mkdirs("/home/user", 0o755, USER.uid, USER.gid)
    fs.mkdirs("/tmp", 0o1777)
    for name in USR_BIN_LINKS:
        fs.add_symlink(f"/usr/bin/{name}", f"/bin/{name}")
    fs.add_file("/etc/passwd", PASSWD, 0o644)
    fs.add_file("/etc/group", GROUP, 0o644)
    fs.add_file("/etc/hostname", HOSTNAME, 0o644)
    fs.add_file("/etc/hosts", HOSTS, 0o644)
    fs.add_file("/etc/os-release", OS_RELEASE, 0o644)
    fs.created_at = None  # what the guest creates is stamped when it does
    return fs
