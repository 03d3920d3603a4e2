"""JSON-RPC serving: transport loop, dispatch, handshake and cancellation."""
