"""Help text for people: metavars that name what a value is, never a Python type.

Typer labels a value by its annotation (``<list[Path]>``, ``<str>``, ``<int range>``). After the
command tree is built, :func:`tidy` gives every option without an explicit ``metavar`` one named
after the option (``--purpose PURPOSE``, ``--detector hog|cnn``) and shows arguments by name
alone (``IMAGES``). Defaults are declared where each option is (``show_default=...`` where the
default comes from the settings or means "none").
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from typer.core import TyperArgument, TyperOption


def commands(root: Any, path: str = "facegate") -> Iterator[tuple[str, Any]]:
    """Every command in the tree (click commands, as Typer builds them) with its full name."""
    yield path, root
    for name, sub in sorted(getattr(root, "commands", {}).items()):
        yield from commands(sub, f"{path} {name}")


def _choices(param: TyperArgument | TyperOption) -> list[str] | None:
    descriptor = param.type_descriptor
    if descriptor.is_choice:
        return [str(getattr(c, "value", c)) for c in descriptor.choices or ()]
    return None


def _metavar(param: TyperArgument | TyperOption) -> str:
    choices = _choices(param)
    if choices:
        return "|".join(choices)
    return (param.name or "value").upper()


def _name_only(ctx: Any) -> None:
    return None


def tidy(root: Any) -> Any:
    """Give every parameter of every command a metavar for people; returns ``root``."""
    for _, command in commands(root):
        for param in command.params:
            if not isinstance(param, TyperArgument | TyperOption):
                continue
            if isinstance(param, TyperOption) and (param.is_flag or param.count):
                continue
            if param.metavar is None:
                param.metavar = _metavar(param)
            if isinstance(param, TyperArgument):
                param.display_type_rich = _name_only  # type: ignore[method-assign]
    return root
