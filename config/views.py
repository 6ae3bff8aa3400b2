"""The landing page: what this server is and where its API lives."""

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


def landing(request: HttpRequest) -> HttpResponse:
    return render(request, "landing.html", {"fhir_base": request.build_absolute_uri(f"/{settings.FHIR_BASE_PATH}")})
