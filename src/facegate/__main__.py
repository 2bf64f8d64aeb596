"""``python -m facegate``: the same as the ``facegate`` command."""

from facegate.cli.main import main

main()
