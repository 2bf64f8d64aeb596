"""facegate.server."""
