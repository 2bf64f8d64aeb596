"""``facegate serve`` and ``facegate keys create|list|revoke``.

Keys live in the data dir's database, so they can be managed without a running server. A new
key's secret is printed once and never stored (only its SHA-256).
"""

from __future__ import annotations

import shlex
from typing import Annotated

import typer

from facegate.cli.common import (
    DataOpt,
    JsonOpt,
    audit_chain,
    cli_actor,
    emit_json,
    from_settings,
    settings,
)
from facegate.config import ServerConfig
from facegate.server.keys import SCOPES, KeyStore, parse_list

keys_app = typer.Typer(help="API keys for the HTTP service.", no_args_is_help=True)


def serve(
    host: Annotated[
        str | None,
        typer.Option(
            "--host",
            help="Listen address.",
            show_default=from_settings("FACEGATE_SERVER__HOST", ServerConfig, "host"),
        ),
    ] = None,
    port: Annotated[
        int | None,
        typer.Option(
            "--port",
            min=0,
            max=65535,
            help="Listen port.",
            show_default=from_settings("FACEGATE_SERVER__PORT", ServerConfig, "port"),
        ),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            "--workers",
            metavar="N",
            min=1,
            max=64,
            help="Inference workers.",
            show_default=from_settings("FACEGATE_SERVER__WORKERS", ServerConfig, "workers"),
        ),
    ] = None,
    data: DataOpt = None,
) -> None:
    """Start the HTTP API and the web console (prints an admin key on first start)."""
    import uvicorn

    from facegate.cli.listen import bound_port, listen
    from facegate.server.app import create_app
    from facegate.server.http11 import uvicorn_options

    base = settings(data)
    updates = {"host": host, "port": port, "workers": workers}
    server = base.server.model_copy(update={k: v for k, v in updates.items() if v is not None})
    base = base.model_copy(update={"server": server})
    listener = listen(server.host, server.port)  # a busy port fails here, before any output
    with audit_chain(base) as chain:
        keys = KeyStore.open(base.home, audit=chain, url=base.store.url)
        try:
            first = keys.ensure_admin(actor=cli_actor())
        finally:
            keys.close()
    if first is not None:
        typer.echo(f"admin API key (shown once, keep it safe): {first.token}")
    else:
        where = f" --data {shlex.quote(str(data))}" if data is not None else ""
        typer.echo(
            "API keys exist already (the first admin key was shown once, on first start); "
            f"to create a new admin key: facegate keys create --scopes admin --purposes '*'{where}"
        )
    shown_host = f"[{server.host}]" if ":" in server.host else server.host
    url = f"http://{shown_host}:{bound_port(listener)}/"
    typer.echo(f"facegate console: {url}  (API docs at /docs)")
    config = uvicorn.Config(create_app(base), **uvicorn_options(server, base.log_level))
    uvicorn.Server(config).run(sockets=[listener])  # host and port: the socket bound above


@keys_app.command("create")
def keys_create(
    scopes: Annotated[str, typer.Option("--scopes", help=f"Comma-separated: {','.join(SCOPES)}.")],
    purposes: Annotated[
        str,
        typer.Option(
            "--purposes",
            help="Comma-separated purposes, or '*' for any.",
            show_default="none: no purpose-bound call",
        ),
    ] = "",
    name: Annotated[
        str, typer.Option("--name", help="A label for people.", show_default="none")
    ] = "",
    data: DataOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Create a key; its secret is printed once."""
    base = settings(data)
    with audit_chain(base) as chain:
        store = KeyStore.open(base.home, audit=chain, url=base.store.url)
        try:
            new = store.create(parse_list(scopes), parse_list(purposes), name, actor=cli_actor())
        finally:
            store.close()
    if as_json:
        emit_json({"id": new.key.id, "key": new.token, **new.key.to_dict()})
        return
    typer.echo(new.token)
    typer.echo(
        f"key {new.key.id}: scopes {','.join(sorted(new.key.scopes))}; purposes "
        f"{','.join(sorted(new.key.purposes)) or '(none)'} (the secret is not shown again)",
        err=True,
    )


@keys_app.command("list")
def keys_list(data: DataOpt = None, as_json: JsonOpt = False) -> None:
    """Keys with their scopes, purposes and state (never their secrets)."""
    base = settings(data)
    store = KeyStore.open(base.home, url=base.store.url)
    try:
        found = store.list()
    finally:
        store.close()
    if as_json:
        emit_json({"keys": [k.to_dict() for k in found]})
        return
    for k in found:
        state = f"revoked {k.revoked_at.isoformat()}" if k.revoked_at else "active"
        typer.echo(
            f"{k.id}  {state:8s}  scopes={','.join(sorted(k.scopes))}  "
            f"purposes={','.join(sorted(k.purposes)) or '-'}  {k.name}"
        )


@keys_app.command("revoke")
def keys_revoke(
    key_id: Annotated[str, typer.Argument(help="The key id (the part after 'fg_').")],
    data: DataOpt = None,
) -> None:
    """Revoke a key; requests with it get 401 at once."""
    base = settings(data)
    with audit_chain(base) as chain:
        store = KeyStore.open(base.home, audit=chain, url=base.store.url)
        try:
            key = store.revoke(key_id, actor=cli_actor())
        finally:
            store.close()
    typer.echo(f"revoked {key.id}")


def register(app: typer.Typer) -> None:
    app.command()(serve)
    app.add_typer(keys_app, name="keys")
