"""Top-level URLs: the FHIR API under /fhir, the sources' push endpoints under /ingest, the data steward's
pages (Django admin) under /steward, OpenID Connect sign-in under /oidc, the SMART authorisation server
under /auth and its /.well-known/smart-configuration, the signed-in account's app authorisations under /apps,
a landing page."""

from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from config.views import landing
from consent.facade import smart_configuration
from federation.api.urls import base_urlpatterns

urlpatterns = [
    path("", landing, name="landing"),
    path(".well-known/smart-configuration", smart_configuration),
    path(f"{settings.FHIR_BASE_PATH}/.well-known/smart-configuration", smart_configuration),
    path(settings.FHIR_BASE_PATH, include(base_urlpatterns)),
    path(f"{settings.FHIR_BASE_PATH}/", include("federation.api.urls")),
    path("ingest/", include("connectors.urls")),
    path("oidc/", include("mozilla_django_oidc.urls")),
    path("auth/", include("consent.smart.urls")),
    path("apps/", include("consent.smart.apps_page")),
    path("steward/", admin.site.urls),
]
