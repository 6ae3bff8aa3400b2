"""The audit trail as AuditEvent: search and read, nothing else (it is written by the platform, never by a
client). The events are consent's; this module only speaks FHIR search to them."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlencode

from rest_framework.request import Request
from rest_framework.response import Response

from consent.contracts import AuditCriteria
from consent.facade import AUDIT_DATE_PREFIXES, audit_event_read, audit_events_search
from core import page_tokens
from core.outcome import invalid, not_found
from federation.api.http import base_url, page_size
from federation.api.routing import Interaction, InteractionView
from federation.api.views.access import request_access
from federation.identity.persons import person_of_patient
from federation.search.dates import date_interval
from federation.search.searchset import PAGE_TOKEN

AUDIT_EVENT = "AuditEvent"
RESULT_PARAMETERS = ("_count", PAGE_TOKEN)


class AuditEventSearchView(InteractionView):
    """GET /fhir/AuditEvent?patient=&date=&agent=&entity=&type=&_count=, newest first, keyset paged."""

    interactions = (Interaction("search-type", "type"),)
    served_type = AUDIT_EVENT
    search_parameters = ("agent", "date", "entity", "patient", "type")

    def get(self, request: Request) -> Response:
        access = request_access(request)
        criteria = _criteria(request, self.search_parameters)
        page = audit_events_search(access=access, criteria=criteria)
        base = base_url(request)
        links = [{"relation": "self", "url": request.build_absolute_uri()}]
        if page.next_after_id is not None:
            kept = [(key, value) for key, value in request.query_params.items() if key != PAGE_TOKEN]
            query = urlencode([*kept, (PAGE_TOKEN, page_tokens.encode(page.next_after_id))])
            links.append({"relation": "next", "url": f"{request.build_absolute_uri(request.path)}?{query}"})
        entries = [
            {"fullUrl": f"{base}/{AUDIT_EVENT}/{event['id']}", "resource": event, "search": {"mode": "match"}}
            for event in page.events
        ]
        return Response({"resourceType": "Bundle", "type": "searchset", "link": links, "entry": entries})


class AuditEventReadView(InteractionView):
    """GET /fhir/AuditEvent/{id}: 404 for an event that does not exist or is not the caller's to see."""

    interactions = (Interaction("read", "instance"),)
    served_type = AUDIT_EVENT

    def get(self, request: Request, logical_id: str) -> Response:
        access = request_access(request)
        event = None
        if logical_id.isdigit():
            event = audit_event_read(access=access, event_id=int(logical_id))
        if event is None:
            raise not_found(f"{AUDIT_EVENT}/{logical_id} is not known.")
        return Response(event)


def _criteria(request: Request, supported: tuple[str, ...]) -> AuditCriteria:
    """The search's parameters; one this search does not take is refused, never ignored (ignoring it would
    answer with more events than were asked for)."""
    params = request.query_params
    unknown = sorted(set(params) - set(supported) - set(RESULT_PARAMETERS))
    if unknown:
        raise invalid(f"AuditEvent search takes {', '.join(supported)} and _count, not {', '.join(unknown)}.")
    return AuditCriteria(
        patients=_patients(params.getlist("patient")),
        recorded=tuple(_recorded(value) for value in params.getlist("date")),
        agent=_single(params.getlist("agent"), "agent"),
        entity=_single(params.getlist("entity"), "entity"),
        types=tuple(code for value in params.getlist("type") for code in value.split(",") if code),
        count=page_size(request),
        after_id=_after_id(params.get(PAGE_TOKEN)),
    )


def _patients(values: list[str]) -> tuple[str, ...] | None:
    """patient=Patient/1,Patient/2 matches events about any of those persons (each with all their records)."""
    if not values:
        return None
    named = [item.removeprefix("Patient/") for value in values for item in value.split(",") if item]
    return tuple(patient for name in named for patient in person_of_patient(name))


def _recorded(value: str) -> tuple[str, datetime, datetime]:
    prefix, text = (value[:2], value[2:]) if value[:2].isalpha() else ("eq", value)
    if prefix not in AUDIT_DATE_PREFIXES:
        raise invalid(f"date takes the prefixes {', '.join(sorted(AUDIT_DATE_PREFIXES))}, not '{prefix}'.")
    interval = date_interval(text)
    if interval is None:
        raise invalid(f"date '{value}' is not a FHIR date, dateTime or instant.", expression="date")
    return prefix, interval[0], interval[1]


def _single(values: list[str], name: str) -> str | None:
    if len(values) > 1:
        raise invalid(f"Give {name} once.", expression=name)
    return values[0] if values else None


def _after_id(token: str | None) -> int | None:
    if token is None:
        return None
    try:
        return page_tokens.decode(token, int)
    except page_tokens.ForeignPageTokenError as error:
        raise invalid(f"{PAGE_TOKEN} is not a page token this server gave out.") from error
