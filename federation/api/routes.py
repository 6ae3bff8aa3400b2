"""Every FHIR route below the base URL, with the interaction view each HTTP method reaches."""

from __future__ import annotations

from federation.api.routing import InteractionRoute
from federation.api.views.audit import AuditEventReadView, AuditEventSearchView
from federation.api.views.break_glass import BreakTheGlassView
from federation.api.views.bundle import BatchView
from federation.api.views.history import InstanceHistoryView, SystemHistoryView, TypeHistoryView
from federation.api.views.match import PatientMatchView
from federation.api.views.read import ReadView, VReadView
from federation.api.views.search import CompartmentSearchView, SystemSearchView, TypeSearchPostView, TypeSearchView
from federation.api.views.write import (
    ConditionalDeleteView,
    ConditionalUpdateView,
    CreateView,
    DeleteView,
    UpdateView,
)

ROUTES: list[tuple[str, InteractionRoute]] = [
    # The audit trail, read-only; the store's routes do not take AuditEvent (see converters.py).
    ("AuditEvent", InteractionRoute({"GET": AuditEventSearchView})),
    ("AuditEvent/<fhirid:logical_id>", InteractionRoute({"GET": AuditEventReadView})),
    ("", InteractionRoute({"GET": SystemSearchView, "POST": BatchView})),
    ("_history", InteractionRoute({"GET": SystemHistoryView})),
    (
        "<fhirtype:resource_type>",
        InteractionRoute(
            {"GET": TypeSearchView, "POST": CreateView, "PUT": ConditionalUpdateView, "DELETE": ConditionalDeleteView}
        ),
    ),
    ("<fhirtype:resource_type>/_history", InteractionRoute({"GET": TypeHistoryView})),
    ("<fhirtype:resource_type>/_search", InteractionRoute({"POST": TypeSearchPostView})),
    ("Patient/$match", InteractionRoute({"POST": PatientMatchView})),
    ("Patient/<fhirid:logical_id>/$break-the-glass", InteractionRoute({"POST": BreakTheGlassView})),
    (
        "<fhirtype:resource_type>/<fhirid:logical_id>",
        InteractionRoute({"GET": ReadView, "PUT": UpdateView, "DELETE": DeleteView}),
    ),
    ("<fhirtype:resource_type>/<fhirid:logical_id>/_history", InteractionRoute({"GET": InstanceHistoryView})),
    ("<fhirtype:resource_type>/<fhirid:logical_id>/_history/<int:version_id>", InteractionRoute({"GET": VReadView})),
    (
        "<fhirtype:resource_type>/<fhirid:logical_id>/<fhirtype:compartment_type>",
        InteractionRoute({"GET": CompartmentSearchView}),
    ),
]
