"""facegate.privacy."""
