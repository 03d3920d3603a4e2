"""Host tools and secrets: what a VM may use without holding it.

- ``registry.VmTools``: one VM's registered tools, bearer token, jobs and audit log;
  the HTTP API the guest reaches at ``http://tools.agentvm.internal/`` (``http_api``,
  h11 over a VM-internal service connection, net/services.py) forwards calls to the
  client as ``tools.invoke`` requests.
- ``secrets``: placeholders in the guest's env, swapped for the real value in the
  guest's outbound HTTP requests to the secret's hosts only.
"""

from .registry import TOOLS_HOST, VmTools
from .secrets import SecretRules

__all__ = ["TOOLS_HOST", "SecretRules", "VmTools"]
