"""Search parameters defined at runtime (stored SearchParameter resources), once reindex took them in."""

from __future__ import annotations

from django.db import models


class SearchParameterDefinition(models.Model):
    """A stored SearchParameter the engine knows. `active` turns true when a reindex has indexed it:
    before that, writes already index it but searches do not offer it (its index is incomplete)."""

    url = models.TextField(unique=True)
    definition = models.JSONField()
    active = models.BooleanField(default=False)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.url} ({'active' if self.active else 'pending reindex'})"
