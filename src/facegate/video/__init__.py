"""facegate.video."""
