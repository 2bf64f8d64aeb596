"""facegate.apps."""
