"""Progress bars for long commands: on standard error, and only when it is a terminal.

JSON and other results go to standard output, so ``--json`` never hides the bar and the bar
never mixes with the JSON. Library code reports progress through a :data:`ProgressFn`
callback ``(label, done, total)`` (``total`` 0 when unknown) and never draws anything itself.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from facegate.types import ProgressFn


@contextmanager
def progress_bar() -> Iterator[ProgressFn | None]:
    """A callback that draws one bar per label on stderr; None when stderr is not a terminal."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    console = Console(stderr=True)
    if not console.is_terminal:
        yield None
        return
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console) as bar:
        tasks: dict[str, Any] = {}

        def update(label: str, done: int, total: int) -> None:
            if label not in tasks:
                tasks[label] = bar.add_task(label, total=total or None)
            bar.update(tasks[label], completed=done, total=total or None)

        yield update
