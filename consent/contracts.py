"""The access context every read and write of health data carries."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import Enum, StrEnum
from typing import Any

PURPOSE_SYSTEM = "http://terminology.hl7.org/CodeSystem/v3-ActReason"
TSUNAGI_PURPOSE_SYSTEM = "https://tsunagi.example.jp/fhir/CodeSystem/purpose-of-use"


class AccessKind(Enum):
    """Whose side the request acts on; it decides which consent rules apply."""

    SYSTEM = "system"  # the platform itself, or a client with system scopes under the deployment's legal basis
    PATIENT = "patient"  # pinned to one person: the person themself, or an app the person authorised
    USER = "user"  # a member of staff (clinician, welfare officer), under each person's consent


class Purpose(StrEnum):
    """Purpose of use: v3 ActReason codes, except welfare support, which has none (Tsunagi's own code)."""

    TREATMENT = "TREAT"
    EMERGENCY_TREATMENT = "ETREAT"
    WELFARE_SUPPORT = "welfare-support"
    RESEARCH = "HRESCH"
    OPERATIONS = "HOPERAT"  # the platform's own work and operators under the legal basis
    PERSONAL = "PATRQT"  # the person reading their own record

    @property
    def system(self) -> str:
        return TSUNAGI_PURPOSE_SYSTEM if self is Purpose.WELFARE_SUPPORT else PURPOSE_SYSTEM


@dataclass(frozen=True)
class AccessContext:
    """Who is acting, for whom and why; federation selectors narrow their SQL by it via consent.facade, and the
    audit trail records it."""

    kind: AccessKind
    purpose: Purpose
    reason: str = ""  # free text: the platform's job ("identity linking"), a break-the-glass justification
    client_id: str | None = None  # the app acting, when a request came with a token
    scope: str = ""  # the token's SMART scopes
    patient: str | None = None  # PATIENT kind: the Patient id the context is pinned to, server-side
    subject: str | None = None  # the signed-in account as "issuer|sub", when a person or staff member acts
    role: str | None = None  # the account's role (accounts' Role values)
    organization: str | None = None  # "Organization/ID" the actor works for (clinicians, apps)
    practitioner: str | None = None  # "Practitioner/ID" of a clinician
    municipality: str | None = None  # the municipality code of a welfare officer or a municipal system
    # the Patients the account broke the glass for, unexpired, when the token's lookup brought them (None: the
    # filter and the audit ask when they need them)
    emergency: tuple[str, ...] | None = None
    # PATIENT kind: every Patient id of the pinned person (golden and sources), when the token's lookup brought
    # them (None: asked when needed)
    person: tuple[str, ...] | None = None

    @classmethod
    def system(cls, reason: str) -> AccessContext:
        """The platform acting on its own behalf (ingest, identity linking, commands)."""
        return cls(kind=AccessKind.SYSTEM, purpose=Purpose.OPERATIONS, reason=reason)


class AuditCategory(StrEnum):
    """What kind of event an audit entry records (AuditEvent.type)."""

    REST = "rest"  # a FHIR interaction on the API
    LOGIN = "login"  # an OpenID Connect sign-in, successful or not
    IMPORT = "import"  # a batch of records a connector stored


@dataclass(frozen=True)
class AuditEntry:
    """One auditable event as the platform saw it; consent.facade.audit_record appends it to the chain.

    `access` is None when the actor is unknown (a request without a valid token, a failed sign-in); `subject`
    and `role` then name who acted or tried, when known. `entities` are the resources the event touched
    ("Observation/7") or, for an import, the raw messages ("urn:sha256:..."); `patients` the Patient ids whose
    records they are; `query` what was asked (a search's query string); `status` the HTTP-like outcome (200,
    404...) and `outcome_text` the OperationOutcome's text."""

    category: AuditCategory
    subtype: str  # the FHIR interaction code (read, search-type...), an operation ($match), login, import
    action: str  # C, R, U, D or E (AuditEvent.action)
    status: int
    access: AccessContext | None
    outcome_text: str = ""
    subject: str | None = None
    role: str | None = None
    entities: tuple[str, ...] = ()
    patients: tuple[str, ...] = ()
    query: str = ""
    network: str | None = None


@dataclass(frozen=True)
class AuditCriteria:
    """An AuditEvent search: each given criterion narrows, every criterion must hold.

    `patients` are the Patient ids of one person (any of them matches), `recorded` (prefix, low, high) bounds
    on the event time, `agent` a reference, account ("issuer|sub") or client id, `entity` a reference,
    `types` AuditEvent.type codes (any matches). `after_id` continues a page."""

    patients: tuple[str, ...] | None = None
    recorded: tuple[tuple[str, datetime, datetime], ...] = ()
    agent: str | None = None
    entity: str | None = None
    types: tuple[str, ...] = ()
    count: int = 20
    after_id: int | None = None


@dataclass(frozen=True)
class AuditPage:
    """One page of AuditEvent resources, newest first; `next_after_id` continues after its last."""

    events: tuple[dict[str, Any], ...]
    next_after_id: int | None


@dataclass(frozen=True)
class BreakGlassDeclaration:
    """A clinician's declaration of emergency treatment for one Patient (the whole person), until `expires_at`."""

    declaration_id: int
    subject: str
    practitioner: str | None
    organization: str | None
    patient: str
    reason: str
    declared_at: datetime
    expires_at: datetime
