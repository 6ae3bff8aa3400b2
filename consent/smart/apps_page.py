"""/apps/: the signed-in account's app authorisations, each with a revoke button."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path
from django.views.decorators.http import require_POST

from consent.models import AppAuthorisation
from consent.smart.authorisations import app_authorisation_revoke
from consent.smart.wording import scope_in_words

app_name = "apps"


@login_required
def app_list(request: HttpRequest) -> HttpResponse:
    authorisations = _own(request).select_related("registration__application").order_by("-created_at")
    items = [
        {"authorisation": authorisation, "scopes": [scope_in_words(scope) for scope in authorisation.scope.split()]}
        for authorisation in authorisations
    ]
    return render(request, "consent/apps.html", {"authorisations": items})


@login_required
@require_POST
def app_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    """Revoke one of the account's own authorisations (someone else's is not found)."""
    app_authorisation_revoke(authorisation=get_object_or_404(_own(request), pk=pk))
    return redirect("apps:list")


def _own(request: HttpRequest) -> QuerySet[AppAuthorisation]:
    """The signed-in account's authorisations (login_required has turned anonymous visitors away)."""
    return AppAuthorisation.objects.filter(user_id=int(str(request.user.pk)))


urlpatterns = [
    path("", app_list, name="list"),
    path("<int:pk>/revoke", app_revoke, name="revoke"),
]
