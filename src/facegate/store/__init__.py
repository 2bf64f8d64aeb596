"""facegate.store."""

from facegate.store import schema_apps as schema_apps  # the applications' tables join Base
