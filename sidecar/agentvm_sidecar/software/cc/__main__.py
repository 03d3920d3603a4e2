"""`python -m agentvm_sidecar.software.cc ARGS...`: agentvm-cc (see the package docstring)."""

import sys

from .driver import main

sys.exit(main())
