"""``/v1/apps/payment``: pay by face at a till, with the PIN and QR paths always offered.

1. ``POST /v1/apps/payment/accounts``: a payer's account (subject, last 4 phone digits, PIN).
2. ``POST /v1/apps/payment/attempts``: the till opens an attempt for an amount; the answer
   carries the purpose's notice and the alternatives (``pin``, ``qr``).
3. ``POST .../attempts/{id}/preview``: the beauty-filtered copy of a frame, for display only.
4. ``POST .../attempts/{id}/face``: the raw frame, a passed ``liveness_session_id`` and either
   ``phone_last4`` (1:N narrowed by the second factor) or ``account_id`` (1:1): approve,
   step-up (PIN asked) or decline, with a receipt naming the operating point.
5. ``POST .../attempts/{id}/pin``: the PIN after a step-up, or on the PIN path (with
   ``account_id``) after ``POST .../attempts/{id}/alternative`` with ``method=pin``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from facegate.apps.attempts import Attempt, Attempts, AttemptState
from facegate.apps.notices import require_notice
from facegate.apps.pay_accounts import PayAccounts
from facegate.apps.payment import Capture, band_for, check_not_preview, parse_amount
from facegate.apps.till import Till
from facegate.errors import InvalidRequestError
from facegate.server import openapi
from facegate.server.apps.state import AppsDep, AppsState
from facegate.server.deps import AnyKey, EnrollKey, ServicesDep, check_purpose
from facegate.server.payload import read_payload
from facegate.server.services import Services, actor_of
from facegate.server.workers import ServerEngine

router = APIRouter(prefix="/v1/apps/payment", tags=["apps"])
APP = "payment"
ALTERNATIVES = ("pin", "qr")


def till_of(apps: AppsState, services: Services) -> Till:
    gallery = services.gallery
    return apps.service(
        APP, Till, lambda: Till(gallery, services.settings.payment, PayAccounts(gallery))
    )


class AccountFields(BaseModel):
    model_config = ConfigDict(extra="forbid")
    subject_id: str = Field(min_length=1, max_length=64)
    phone_last4: str = Field(pattern=r"^[0-9]{4}$", description="Last 4 digits of a phone.")
    pin: str = Field(pattern=r"^[0-9]{4,8}$", description="4-8 digits, stored as scrypt.")


class AttemptFields(BaseModel):
    model_config = ConfigDict(extra="forbid")
    amount: str = Field(min_length=1, max_length=20, description="e.g. 12.50")
    till: str = Field("", max_length=64, description="The till's own name (receipts).")


class FaceFields(BaseModel):
    model_config = ConfigDict(extra="forbid")
    liveness_session_id: str | None = Field(None, max_length=64)
    phone_last4: str | None = Field(None, pattern=r"^[0-9]{4}$")
    account_id: str | None = Field(None, max_length=64)


class PreviewFields(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PinFields(BaseModel):
    model_config = ConfigDict(extra="forbid")
    pin: str = Field(min_length=1, max_length=16)
    account_id: str | None = Field(None, max_length=64, description="On the PIN-only path.")


@router.post("/accounts", status_code=201, openapi_extra=openapi.body(AccountFields))
async def create_account(
    request: Request, key: EnrollKey, services: ServicesDep, apps: AppsDep
) -> dict[str, Any]:
    """A payer's account; the digits are stored as a keyed tag, the PIN as scrypt."""
    till = till_of(apps, services)
    check_purpose(request, key, "enroll", till.purpose)
    request.state.operation = ("pay.account", till.purpose)
    fields = (await read_payload(request, ())).model(AccountFields)
    account = await run_in_threadpool(
        till.accounts.create,
        fields.subject_id,
        fields.phone_last4,
        fields.pin,
        actor_of(request, key),
    )
    return account.to_dict()


@router.post("/attempts", status_code=201, openapi_extra=openapi.body(AttemptFields))
async def open_attempt(
    request: Request, key: AnyKey, services: ServicesDep, apps: AppsDep
) -> dict[str, Any]:
    """An attempt to pay ``amount``: the notice, the band, and the alternatives offered (a
    key with the identify or the verify scope, bound to the payment purpose)."""
    till = till_of(apps, services)
    scope = "identify" if key.has_scope("identify") else "verify"
    check_purpose(request, key, scope, till.purpose)
    fields = (await read_payload(request, ())).model(AttemptFields)
    amount = parse_amount(fields.amount)
    notice = await run_in_threadpool(require_notice, services.gallery, till.purpose)
    data = {
        "amount": str(amount),
        "currency": till.config.currency,
        "amount_band": band_for(amount, till.config).name,
        "till": fields.till,
    }
    attempt = apps.attempts.open(APP, till.purpose, key.id, data)
    return {**attempt.to_dict(ALTERNATIVES), "notice": notice.to_dict()}


def _attempt(apps: AppsState, key_id: str, attempt_id: str) -> Attempt:
    return apps.attempts.get(attempt_id, key_id, APP)


@router.post(
    "/attempts/{attempt_id}/preview",
    openapi_extra=openapi.body(PreviewFields, {"image": "A camera frame."}, [("image",)]),
    response_class=Response,
    responses={200: {"content": {"image/jpeg": {}}}},
)
async def preview(
    attempt_id: str, request: Request, key: AnyKey, services: ServicesDep, apps: AppsDep
) -> Response:
    """The skin-smoothed copy of a frame for the payer's screen; it is never matched."""
    attempt = _attempt(apps, key.id, attempt_id)
    Attempts.require(attempt, AttemptState.OPEN)
    payload = await read_payload(request, ("image",))
    payload.model(PreviewFields)
    capture = Capture(payload.image("image"))
    jpeg = await run_in_threadpool(capture.preview, services.settings.image)
    with attempt.lock:
        attempt.context.setdefault("previews", set()).add(Capture(jpeg).sha256)
    return Response(jpeg, media_type="image/jpeg")


@router.post(
    "/attempts/{attempt_id}/face",
    openapi_extra=openapi.body(FaceFields, {"image": "The raw camera frame."}, [("image",)]),
)
async def pay_by_face(
    attempt_id: str, request: Request, key: AnyKey, services: ServicesDep, apps: AppsDep
) -> dict[str, Any]:
    """Find the payer (second factor or account), decide by the amount's band, record."""
    till = till_of(apps, services)
    attempt = _attempt(apps, key.id, attempt_id)
    payload = await read_payload(request, ("image",))
    fields = payload.model(FaceFields)
    scope = "verify" if fields.account_id else "identify"
    check_purpose(request, key, scope, till.purpose)
    request.state.operation = ("app.payment", till.purpose)
    capture = Capture(payload.image("image"))
    amount = Decimal(attempt.data["amount"])
    actor = actor_of(request, key)

    def run(_: ServerEngine) -> Any:
        return till.pay_by_face(
            capture,
            amount,
            evidence,
            phone_last4=fields.phone_last4,
            account_id=fields.account_id,
            attempt_id=attempt.id,
            actor=actor,
        )

    def not_a_preview() -> None:
        check_not_preview(capture, attempt.context.get("previews", set()))

    with attempt.deciding(not_a_preview):  # one face decision per attempt
        evidence = await run_in_threadpool(
            services.liveness_evidence, key, till.purpose, fields.liveness_session_id
        )
        done = await services.pool.run(run)
    request.state.problem_audited = True
    attempt.outcome, attempt.decision_id = done.outcome, done.record.id
    if done.outcome == "step-up":
        attempt.state = AttemptState.STEP_UP
        attempt.context.update(done.context, step_up=done.record, pins=0)
    return {**attempt.to_dict(ALTERNATIVES), "receipt": done.receipt}


@router.post("/attempts/{attempt_id}/pin", openapi_extra=openapi.body(PinFields))
async def pay_by_pin(
    attempt_id: str, request: Request, key: AnyKey, services: ServicesDep, apps: AppsDep
) -> dict[str, Any]:
    """The PIN: after a step-up (for the matched account), or on the PIN path."""
    till = till_of(apps, services)
    attempt = _attempt(apps, key.id, attempt_id)
    fields = (await read_payload(request, ())).model(PinFields)
    check_purpose(request, key, "verify", till.purpose)
    request.state.operation = ("app.payment", till.purpose)
    with attempt.lock:
        Attempts.require(attempt, AttemptState.STEP_UP, AttemptState.ALTERNATIVE)
        before = attempt.state
        step = attempt.context.get("step_up") if before is AttemptState.STEP_UP else None
        account_id = attempt.context.get("account_id") if step else fields.account_id
        if not account_id:
            raise InvalidRequestError("the PIN path needs the payer's account_id")
        attempt.state = AttemptState.DECIDED  # claimed while the PIN is checked
    amount = Decimal(attempt.data["amount"])
    try:
        outcome, record = await run_in_threadpool(
            lambda: till.pay_by_pin(
                account_id, fields.pin, amount,
                step_up_of=step, attempt_id=attempt.id, actor=actor_of(request, key),
            )
        )  # fmt: skip
    except BaseException:
        attempt.state = before
        raise
    attempt.context["pins"] = attempt.context.get("pins", 0) + 1
    pins_left = max(till.config.pin_attempts - attempt.context["pins"], 0)
    attempt.decision_id = record.id
    if outcome == "approve" or pins_left == 0:
        attempt.outcome = outcome
    else:
        attempt.state = before  # a wrong PIN: try again, up to pin_attempts
    receipt = till.receipt(record, amount)
    return {**attempt.to_dict(ALTERNATIVES), "receipt": receipt, "pins_left": pins_left}
