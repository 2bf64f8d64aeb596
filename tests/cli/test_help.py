"""``facegate --version`` and ``--help``: every option shows its default, no Python type names."""

from __future__ import annotations

import re
from importlib.metadata import version

import pytest
import typer
from typer.core import TyperArgument

from facegate.cli.helptext import commands, tidy
from facegate.cli.main import _register, app, main

PYTHON_TYPES = re.compile(
    r"<(?:str|int|float|bool|path|file|datetime|uuid|\w+ range|\w+\|[\w|]+)>"
    r"|\b(?:list|dict|tuple)\[|\bNoneType\b|<class "
)


def _tree() -> list[tuple[str, object]]:
    _register()
    return list(commands(tidy(typer.main.get_command(app))))


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    out, err = capsys.readouterr()
    assert done.value.code == 0 and err == ""
    assert out.strip() == f"facegate {version('facegate')}"


def test_help_names_values_for_people(capsys: pytest.CaptureFixture[str]) -> None:
    names = [name for name, _ in _tree()]
    assert len(names) > 20
    for name in names:
        with pytest.raises(SystemExit) as done:
            main([*name.split()[1:], "--help"])
        out, _ = capsys.readouterr()
        assert done.value.code == 0, name
        found = PYTHON_TYPES.search(out)
        assert found is None, f"{name} --help shows a Python type: {found and found.group(0)}"


def test_every_option_shows_its_default() -> None:
    import click

    missing = []
    for name, command in _tree():
        ctx = click.Context(command, info_name=name)  # type: ignore[arg-type]
        for param in command.params:  # type: ignore[attr-defined]
            if isinstance(param, TyperArgument) or (
                getattr(param, "is_flag", False) and not getattr(param, "secondary_opts", [])
            ):
                continue  # arguments say in their help; an on/off flag is off unless given
            record = param.get_help_record(ctx)
            if record is None or param.name == "help":
                continue
            if "default:" not in record[1] and "required" not in record[1]:
                missing.append(f"{name} {record[0]}")
    assert missing == [], (
        "options without a default in --help (declare show_default='...' where the default "
        "is None or comes from the settings): " + ", ".join(missing)
    )
