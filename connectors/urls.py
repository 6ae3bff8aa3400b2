"""Push endpoints of the sources: /ingest/<code>/messages."""

from __future__ import annotations

from django.urls import path

from connectors.push import message_push, message_status

urlpatterns = [
    path("<slug:code>/messages", message_push, name="ingest-message-push"),
    path("<slug:code>/messages/<int:message_id>", message_status, name="ingest-message-status"),
]
