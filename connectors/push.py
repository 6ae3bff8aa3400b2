"""HTTP push: a source posts a raw message (any size, streamed) with its bearer token; the answer is 202 and
the message is processed by a Celery worker. The sender polls the message's status."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from django.db import transaction
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from connectors.models import InboundMessage, MessageStatus, SourceSystem
from connectors.pipeline import message_receive
from connectors.tasks import process_message

MAX_ORIGIN = 500


def push_token_issue(*, source: SourceSystem) -> str:
    """A new push token for the source; only its SHA-256 is kept, so it is shown once."""
    token = secrets.token_urlsafe(32)
    source.push_token_sha256 = hashlib.sha256(token.encode()).hexdigest()
    source.save(update_fields=["push_token_sha256"])
    return token


def _authorised_source(request: HttpRequest, code: str) -> SourceSystem | JsonResponse:
    source = SourceSystem.objects.filter(code=code).first()
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    presented = hashlib.sha256(token.strip().encode()).hexdigest()
    if (
        source is None
        or scheme.lower() != "bearer"
        or not source.push_token_sha256
        or not hmac.compare_digest(presented, source.push_token_sha256)
    ):
        return _error(401, "a valid bearer token for this source is required")
    if not source.enabled:
        return _error(403, f"source {code} is disabled")
    return source


@csrf_exempt
@require_POST
def message_push(request: HttpRequest, code: str) -> JsonResponse:
    """POST /ingest/<code>/messages?name=<file name>: the body is the raw message, kept before anything else."""
    source = _authorised_source(request, code)
    if isinstance(source, JsonResponse):
        return source
    origin = (request.GET.get("name") or "push")[:MAX_ORIGIN]
    message, new = message_receive(source=source, stream=request, origin=origin)  # type: ignore[arg-type]
    if message.status == MessageStatus.RECEIVED:
        message_id = message.pk
        transaction.on_commit(lambda: process_message.delay(message_id))
    return JsonResponse(_status(message) | {"duplicate": not new}, status=202)


@require_GET
def message_status(request: HttpRequest, code: str, message_id: int) -> JsonResponse:
    """GET /ingest/<code>/messages/<id>: where the message stands, with its quarantined records."""
    source = _authorised_source(request, code)
    if isinstance(source, JsonResponse):
        return source
    message = InboundMessage.objects.filter(source=source, pk=message_id).first()
    if message is None:
        return _error(404, f"no message {message_id} from {code}")
    quarantine = [
        {"location": entry.location, "field": entry.field, "reason": entry.reason}
        for entry in message.quarantine.filter(resolved_at__isnull=True).order_by("record_index")
    ]
    return JsonResponse(_status(message) | {"quarantine": quarantine})


def _status(message: InboundMessage) -> dict[str, object]:
    return {
        "message": message.pk,
        "sha256": message.sha256,
        "origin": message.origin,
        "status": message.status,
        "records": message.records,
        "created": message.created,
        "updated": message.updated,
        "unchanged": message.unchanged,
        "deleted": message.deleted,
        "quarantined": message.quarantined,
    }


def _error(status: int, text: str) -> JsonResponse:
    return JsonResponse({"error": text}, status=status)
