"""Celery tasks of the ingest pipeline: they take ids, are idempotent, and call the services."""

from __future__ import annotations

from celery import shared_task

from connectors.pipeline import message_process
from federation.facade import identity_link_all


@shared_task(name="connectors.process_message")
def process_message(message_id: int) -> str:
    """Parse and store a received message (safe to run twice: every write is conditional)."""
    message, _ = message_process(message_id=message_id)
    identity_link_all()  # the Patients it wrote, linked to persons now rather than in a nightly batch
    return str(message.status)
