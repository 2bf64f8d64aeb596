"""HTTP routers of the applications (``/v1/apps/...``); see :mod:`facegate.apps`."""
