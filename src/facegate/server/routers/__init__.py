"""The HTTP routers: inference, subjects, audit, system (health, metrics), console."""
