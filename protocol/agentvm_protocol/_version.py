"""Protocol version: clients and sidecar ship in lockstep from one repository.

There is no negotiation and no backward compatibility. Bump this integer whenever a
wire type changes shape; a mismatch at ``hello`` is a ``version_mismatch`` error.
"""

PROTOCOL_VERSION = 1

# The largest NDJSON line either side accepts, advertised in HelloResult.
DEFAULT_MAX_FRAME_BYTES = 64 * 1024 * 1024
