"""URLs below the FHIR base; anything else below it answers 404 with an OperationOutcome."""

from __future__ import annotations

from django.urls import path, re_path, register_converter

from federation.api.converters import LogicalIdConverter, ResourceTypeConverter
from federation.api.routes import ROUTES
from federation.api.views.capability import CapabilityView
from federation.api.views.unknown import UnknownRouteView

register_converter(ResourceTypeConverter, "fhirtype")
register_converter(LogicalIdConverter, "fhirid")

# The base URL itself ("/fhir", no slash) takes batch and transaction Bundles.
base_urlpatterns = [path(pattern, route.as_view()) for pattern, route in ROUTES if pattern == ""]

urlpatterns = [
    path("metadata", CapabilityView.as_view(), name="fhir-metadata"),
    *[path(pattern, route.as_view()) for pattern, route in ROUTES],
    re_path(r"^.*$", UnknownRouteView.as_view()),
]
