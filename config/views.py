"""The landing page: what this server is, where its API lives, and who is signed in."""

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


def landing(request: HttpRequest) -> HttpResponse:
    context = {
        "fhir_base": request.build_absolute_uri(f"/{settings.FHIR_BASE_PATH}"),
        "account": getattr(request.user, "account", None),
    }
    return render(request, "landing.html", context)
