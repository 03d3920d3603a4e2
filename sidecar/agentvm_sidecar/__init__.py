"""agentvm sidecar: the daemon that owns every VM's kernel and runs guests under wasmtime."""

__version__ = "0.1.0"
