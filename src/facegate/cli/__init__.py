"""facegate.cli."""
