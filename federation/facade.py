"""What other apps may ask of federation (with federation.contracts, the only modules they may import)."""

from __future__ import annotations

from federation.identity.linking import identity_link_all, identity_queue_size
from federation.identity.persons import best_known_persons, person_of_patient
from federation.ingest.records import organization_ensure, provenance_entry, records_ingest
from federation.search.compartments import compartment_patients
from federation.search.dates import date_interval
from federation.search.selectors import consents_about, resource_read
from federation.storage.services import resource_create, resource_update

__all__ = [
    "best_known_persons",
    "compartment_patients",
    "consents_about",
    "date_interval",
    "identity_link_all",
    "identity_queue_size",
    "organization_ensure",
    "person_of_patient",
    "provenance_entry",
    "records_ingest",
    "resource_create",
    "resource_read",
    "resource_update",
]
