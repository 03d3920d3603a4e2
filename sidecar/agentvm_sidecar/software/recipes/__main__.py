"""`python -m agentvm_sidecar.software.recipes`: build the recipes (build_all.py)."""

import sys

from .build_all import main

sys.exit(main())
