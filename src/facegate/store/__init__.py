"""facegate.store."""
