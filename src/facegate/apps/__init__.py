"""facegate.apps: applications built on the gallery (payment, registration, access, attendance).

Every application is a pure policy plus a small workflow over the gallery, and follows the same
conventions, so that a person meets the same guarantees at a till, a door or an exam desk:

**A notice before any face.** Each purpose has a notice (:mod:`facegate.apps.notices`): what it
is for, who processes the data, the legal basis, retention, how to refuse, a contact. An
application refuses to process faces for a purpose without one (:func:`require_notice`), the
kiosk page shows it before the camera starts, the API returns it
(``GET /v1/apps/notices/{purpose}``) and :func:`sign_html` renders the sign a public place shows.

**An alternative path, without penalty.** Every attempt (:mod:`facegate.apps.attempts`) offers
a non-face path (PIN, QR, card, staff check...). Choosing it is recorded as a decision with
outcome ``alternative`` that names nobody (:meth:`DecisionLog.alternative`), the attempt then
never offers the face path again (no repeated prompting), and nothing reads these records to
slow down, rank or charge the person.

**Every decision is a record, committed with its audit record.** :class:`DecisionLog` writes an
``app_decisions`` row (outcome, operating point, liveness result, plain facts such as image
SHA-256s, the subject only as the audit chain's keyed pseudonym) and the audit chain record
``app.<app>`` in one transaction: both or neither. Images are never stored unless the
purpose's policy says ``keep_images``.

**HTTP.** An application's router lives in ``facegate.server.apps.<app>`` with prefix
``/v1/apps/<app>`` (e.g. ``POST /v1/apps/payment/attempts``), is registered with one
``include_router`` line in ``server/app.py``, and:

- takes bodies through :func:`facegate.server.payload.read_payload` (multipart or JSON with
  base64 images) validated by a pydantic model with ``extra="forbid"``;
- raises facegate errors only; the server turns them into RFC 9457 problem+json (new error
  classes go under :class:`facegate.errors.ApplicationError` and into ``problems.STATUS``);
- checks the caller's key with the ``deps`` aliases (``VerifyKey``, ``IdentifyKey``,
  ``EnrollKey``, ``AdminKey``) and ``check_purpose(request, key, "<app>.<step>", purpose)``
  (key bound to the purpose, purpose allows the scope; marks the request so that a refusal is
  audited);
- spends liveness through ``services.liveness_evidence(key, purpose, liveness_session_id)``;
- runs face work on the inference pool (``services.pool.run``) and store writes in a thread
  (``run_in_threadpool``);
- reads a route that takes one camera image with
  :func:`facegate.server.apps.faces.read_face_call` (the fields, the purpose, the key's check,
  then the image, in that order on every route), then spends liveness and runs the face work
  with the :class:`~facegate.server.apps.faces.FaceCall` it returns;
- keeps its server-side state in :class:`facegate.server.apps.state.AppsState` (``AppsDep``):
  the shared :class:`Attempts` and :class:`DecisionLog`, and its own, built once on first use
  by ``apps.service("<app>", Kind, build)`` (kept in ``extra[<app>]``).

Shared routes (``facegate.server.apps.common``): ``GET|PUT /v1/apps/notices/{purpose}``,
``GET /v1/apps/notices/{purpose}/sign``, ``GET /v1/apps/decisions``,
``GET /v1/apps/{app}/attempts/{id}`` and ``POST /v1/apps/{app}/attempts/{id}/alternative``.

**Kiosk page.** ``server/static/kiosk-<app>.html`` + ``kiosk-<app>.js`` (reusing ``app.css``),
served at ``/static/kiosk-<app>.html`` and linked by one line in the console's nav. The page
reads the API key from the console's ``sessionStorage`` key ``facegate.key``, shows the notice
(``GET /v1/apps/notices/{purpose}``) before the camera starts, puts the alternative button
beside the face button from the first screen, and after the alternative is chosen never shows
the face path again for that attempt. Each page has its own browser test
``tests/server/test_kiosk_<app>_browser.py``.

**CLI.** ``facegate apps <app> ...`` calls the same library functions as the router.
"""

from facegate.apps.attempts import Attempt, Attempts, AttemptState
from facegate.apps.decisions import OUTCOMES, Decision, DecisionLog, DecisionRecord
from facegate.apps.notices import (
    Notice,
    NoticeText,
    get_notice,
    require_notice,
    set_notice,
    sign_html,
    sign_text,
)

__all__ = [
    "OUTCOMES",
    "Attempt",
    "AttemptState",
    "Attempts",
    "Decision",
    "DecisionLog",
    "DecisionRecord",
    "Notice",
    "NoticeText",
    "get_notice",
    "require_notice",
    "set_notice",
    "sign_html",
    "sign_text",
]
