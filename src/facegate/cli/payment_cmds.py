"""``facegate apps notice|decisions|payment|registration``: notices and signs, decision
records, payment accounts and the PIN path, the registration's operating point and portrait.

The same library calls as ``/v1/apps/...`` on the data dir's gallery (actor ``cli:uid<N>``).
A face payment or a registration needs a live liveness session on a camera, so it runs on the
kiosk pages or the HTTP API, not here.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Annotated, Literal

import typer

from facegate.apps.decisions import DecisionLog
from facegate.apps.documents import find_portrait
from facegate.apps.notices import NoticeText, require_notice, set_notice, sign_html, sign_text
from facegate.apps.pay_accounts import PayAccounts
from facegate.apps.payment import parse_amount
from facegate.apps.registration import Registrar
from facegate.apps.till import Till
from facegate.cli.common import DataOpt, JsonOpt, cli_actor, emit_json, settings
from facegate.cli.gallery_cmds import open_gallery
from facegate.imageio import decode

notice_app = typer.Typer(
    help="Per-purpose notices and the public-place sign.", no_args_is_help=True
)
payment_app = typer.Typer(help="Payment at a till: accounts, the PIN path.", no_args_is_help=True)
registration_app = typer.Typer(help="ID-photo registration.", no_args_is_help=True)
PurposeArg = Annotated[str, typer.Argument(help="The purpose, e.g. payment")]


@notice_app.command("set")
def notice_set(
    purpose: PurposeArg,
    processor: Annotated[str, typer.Option(help="Who processes the data")],
    contact: Annotated[str, typer.Option(help="How to reach them (access, deletion)")],
    alternative: Annotated[str, typer.Option(help="How to refuse: the non-face path")],
    as_json: JsonOpt = False,
    data: DataOpt = None,
) -> None:
    """Write the purpose's notice (shown on kiosks, in the API and on the sign)."""
    with open_gallery(data) as gallery:
        notice = set_notice(
            gallery, purpose, NoticeText(processor, contact, alternative), cli_actor()
        )
    if as_json:
        emit_json(notice.to_dict())
        return
    typer.echo(notice.text())


@notice_app.command("show")
def notice_show(purpose: PurposeArg, as_json: JsonOpt = False, data: DataOpt = None) -> None:
    """The purpose's notice."""
    with open_gallery(data) as gallery:
        notice = require_notice(gallery, purpose)
    if as_json:
        emit_json(notice.to_dict())
        return
    typer.echo(notice.text())


@notice_app.command("sign")
def notice_sign(
    purpose: PurposeArg,
    format: Annotated[
        Literal["html", "text"], typer.Option(help="html (printable) or text")
    ] = "html",
    out: Annotated[
        Path | None, typer.Option(help="Write to this file", show_default="stdout")
    ] = None,
    data: DataOpt = None,
) -> None:
    """The sign a public place shows where faces are processed for this purpose."""
    with open_gallery(data) as gallery:
        notice = require_notice(gallery, purpose)
    text = sign_html(notice) if format == "html" else sign_text(notice)
    if out is None:
        typer.echo(text, nl=False)
        return
    out.write_text(text, encoding="utf-8")
    typer.echo(f"sign written to {out}")


def decisions_cmd(
    app_name: Annotated[
        str | None,
        typer.Option("--app", help="payment, registration...", show_default="every app"),
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 20,
    as_json: JsonOpt = False,
    data: DataOpt = None,
) -> None:
    """The newest application decisions (subjects by keyed pseudonym only)."""
    with open_gallery(data) as gallery:
        found = DecisionLog.of(gallery).records(app_name, limit=limit)
    if as_json:
        emit_json({"decisions": [d.to_dict() for d in found]})
        return
    for d in found:
        point = f" at {d.operating_point}" if d.operating_point else ""
        typer.echo(f"{d.at.isoformat()} {d.app} {d.outcome}{point} ({d.id}, audit {d.audit_seq})")


@payment_app.command("account")
def account_cmd(
    subject: Annotated[str, typer.Argument(help="The payer's subject id")],
    phone_last4: Annotated[str, typer.Option(help="Last 4 digits of the payer's phone")],
    pin: Annotated[str, typer.Option(prompt=True, hide_input=True, help="4-8 digits")],
    as_json: JsonOpt = False,
    data: DataOpt = None,
) -> None:
    """A payer's account (digits stored as a keyed tag, the PIN as scrypt)."""
    with open_gallery(data) as gallery:
        account = PayAccounts(gallery).create(subject, phone_last4, pin, cli_actor())
    if as_json:
        emit_json(account.to_dict())
        return
    typer.echo(f"account {account.id} for subject {account.subject_id}")


@payment_app.command("pay-pin")
def pay_pin_cmd(
    account: Annotated[str, typer.Argument(help="The payer's account id")],
    amount: Annotated[str, typer.Option(help="e.g. 12.50")],
    pin: Annotated[str, typer.Option(prompt=True, hide_input=True)],
    as_json: JsonOpt = False,
    data: DataOpt = None,
) -> None:
    """The PIN path (no face): approve or decline, recorded like any payment."""
    value: Decimal = parse_amount(amount)
    base = settings(data)
    with open_gallery(data) as gallery:
        till = Till(gallery, base.payment, PayAccounts(gallery))
        outcome, record = till.pay_by_pin(account, pin, value, actor=cli_actor())
        receipt = till.receipt(record, value)
    if as_json:
        emit_json(receipt)
        return
    typer.echo(f"{outcome}: {receipt['amount']} {receipt['currency']} (decision {record.id})")


@registration_app.command("point")
def point_cmd(as_json: JsonOpt = False, data: DataOpt = None) -> None:
    """The cross-capture operating point registrations use with the active pack."""
    base = settings(data)
    with open_gallery(data) as gallery:
        point = Registrar(gallery, base.registration).point()
    body = {
        "operating_point": point.name,
        "threshold": point.threshold,
        "calibration": point.calibration,
    }
    if as_json:
        emit_json(body)
        return
    typer.echo(f"{point.name}: threshold {point.threshold:.4f} ({point.calibration})")


@registration_app.command("find-portrait")
def find_portrait_cmd(
    document: Annotated[Path, typer.Argument(help="A photographed ID document")],
    as_json: JsonOpt = False,
    data: DataOpt = None,
) -> None:
    """Where the portrait is on the document image (box in pixels), and at what scale."""
    base = settings(data)
    with open_gallery(data) as gallery:
        found = find_portrait(gallery.engine, decode(document, base.image))
    body = {
        "document": str(document),
        "found": found is not None,
        "box": found.face.box.as_list() if found else None,
        "scale": found.scale if found else None,
    }
    if as_json:
        emit_json(body)
        return
    typer.echo(
        f"portrait at {body['box']} (scale {body['scale']})" if found else "no portrait found"
    )
