"""facegate.liveness."""
