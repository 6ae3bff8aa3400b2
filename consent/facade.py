"""What other apps may call in consent."""

from __future__ import annotations

from typing import TypeVar

from django.db.models import Model, QuerySet

from consent.contracts import AccessContext, AccessKind
from consent.smart.views import smart_configuration

__all__ = ["access_filter", "smart_configuration"]

M = TypeVar("M", bound=Model)


def access_filter(access: AccessContext, resources: QuerySet[M]) -> QuerySet[M]:
    """Narrow a queryset of stored resources to what `access` may see, inside the SQL.

    Only the system context exists yet, and it sees everything; person, clinician and app contexts
    will add their consent predicates here, so every selector that calls this is enforced in one place.
    """
    assert access.kind is AccessKind.SYSTEM
    return resources
