"""ACP: the sidecar as Agent Client Protocol client of agents running in its VMs.

The wire handlers (api/session.py) use :class:`SessionRegistry`; everything else is
private: the sans-I/O peer (_peer.py), the state tables (_state.py), the agent
process (_agent_process.py), the trio connection (_connection.py), and the
services the agent may ask for (_fs.py, _terminals.py, _permissions.py).
"""

from __future__ import annotations

from ._base import SessionBase, SessionContext
from .registry import SessionRegistry
from .session import AcpSession

__all__ = ["AcpSession", "SessionBase", "SessionContext", "SessionRegistry"]
