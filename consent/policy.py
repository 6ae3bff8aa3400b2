"""Consent semantics, pure: what a person's FHIR Consents (scope patient-privacy) allow. No Django, no database.

A Consent reads to flat rules, one per provision (and per actor it names): the provision's conditions joined with
those of every provision above it, its depth, and its effect. A request's decision for one person's record:

- within one Consent the deepest matching provision decides (nested provisions are exceptions to their parent);
  between equally deep ones, and between Consents, deny overrides permit;
- of the person's Consents only active ones count, and of those about the same grantee (the actors the top
  provision names, or none: the person's general choice) only the newest by Consent.dateTime;
- where no rule matches, the deployment's base policy decides (opt-out: permit; opt-in: deny).

enforcement.py compiles the same rules into SQL; the property test holds the two to the same answer.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from consent.contracts import TSUNAGI_PURPOSE_SYSTEM, Purpose

CONSENT_SCOPE_SYSTEM = "http://terminology.hl7.org/CodeSystem/consentscope"
PATIENT_PRIVACY = "patient-privacy"
RESOURCE_TYPES_SYSTEM = "http://hl7.org/fhir/resource-types"
CLIENT_ID_SYSTEM = "https://tsunagi.example.jp/fhir/NamingSystem/client-id"
MUNICIPALITY_SYSTEM = "https://tsunagi.example.jp/fhir/NamingSystem/municipality"
ACTOR_REFERENCE_TYPES = ("Organization", "Practitioner")
PURPOSE_CODES = {(purpose.system, purpose.value): purpose.value for purpose in Purpose}
READ_PROVISION_KEYS = frozenset(
    {"type", "period", "actor", "purpose", "class", "securityLabel", "dataPeriod", "provision", "id", "extension"}
)
MAX_DEPTH = 8

Instants = Callable[[str], "tuple[datetime, datetime] | None"]  # a FHIR date/dateTime -> [low, high]


class BasePolicy(StrEnum):
    """What the deployment decides for a person where their Consents say nothing."""

    OPT_OUT = "opt-out"  # shared unless the person said no
    OPT_IN = "opt-in"  # not shared unless the person said yes


class Effect(StrEnum):
    PERMIT = "permit"
    DENY = "deny"


class UnreadableConsentError(ValueError):
    """A Consent the policy cannot read; the message names the element, and the write is refused."""

    def __init__(self, message: str, expression: str) -> None:
        super().__init__(message)
        self.expression = expression


@dataclass(frozen=True)
class Span:
    """[low, high] instants; either end None is open."""

    low: datetime | None
    high: datetime | None

    def overlaps(self, low: datetime, high: datetime) -> bool:
        return (self.high is None or low <= self.high) and (self.low is None or high >= self.low)

    def within(self, other: Span | None) -> Span:
        """The intersection with `other` (an empty one has low > high and overlaps nothing)."""
        if other is None:
            return self
        lows = [moment for moment in (self.low, other.low) if moment is not None]
        highs = [moment for moment in (self.high, other.high) if moment is not None]
        return Span(max(lows) if lows else None, min(highs) if highs else None)


@dataclass(frozen=True)
class Rule:
    """One provision, flattened. None in a condition means "any"."""

    consent: str
    depth: int
    effect: Effect
    actor: str | None  # "Organization/1", "Practitioner/2", "client:<id>", "municipality:<code>"
    purposes: frozenset[str] | None
    resource_types: frozenset[str] | None
    labels: frozenset[tuple[str, str]] | None  # (system, code) of meta.security
    data_period: Span | None
    valid: Span | None  # provision.period: when the rule is in force


@dataclass(frozen=True)
class ConsentTerms:
    """What one Consent says, read: whose, whether it counts, when given, about whom, its rules."""

    consent: str
    patient: str
    active: bool
    date_time: datetime
    grantee: frozenset[str]
    rules: tuple[Rule, ...]


@dataclass(frozen=True)
class Request:
    """The side of an access that rules match on: the actor's keys (actor_keys), purpose and the time."""

    actors: frozenset[str]
    purpose: str
    now: datetime


@dataclass(frozen=True)
class Item:
    """The side of a stored resource that rules match on: its type, security labels and data dates."""

    resource_type: str
    labels: frozenset[tuple[str, str]]
    dates: tuple[tuple[datetime, datetime], ...]


def actor_keys(
    *, organization: str | None, practitioner: str | None, client_id: str | None, municipality: str | None
) -> frozenset[str]:
    """The keys an acting party is known by, in the form rules name actors."""
    keys = {organization, practitioner}
    keys.add(f"client:{client_id}" if client_id else None)
    keys.add(f"municipality:{municipality}" if municipality else None)
    return frozenset(key for key in keys if key)


def consent_terms(consent: dict[str, Any], *, instants: Instants) -> ConsentTerms:
    """Read a Consent resource; raises UnreadableConsentError for anything the policy would have to ignore."""
    if not _has_coding(consent.get("scope"), CONSENT_SCOPE_SYSTEM, PATIENT_PRIVACY):
        raise UnreadableConsentError(
            f"Consent.scope must be {CONSENT_SCOPE_SYSTEM}|{PATIENT_PRIVACY}.", "Consent.scope"
        )
    reference = (consent.get("patient") or {}).get("reference")
    if not isinstance(reference, str) or not reference.startswith("Patient/") or "/" in reference[8:]:
        raise UnreadableConsentError("Consent.patient must be a local reference Patient/<id>.", "Consent.patient")
    moment = instants(consent["dateTime"]) if isinstance(consent.get("dateTime"), str) else None
    if moment is None:
        raise UnreadableConsentError("Consent.dateTime is needed: the newer consent wins.", "Consent.dateTime")
    provision = consent.get("provision")
    if not isinstance(provision, dict):
        raise UnreadableConsentError("Consent.provision is needed, with type permit or deny.", "Consent.provision")
    consent_id = str(consent.get("id") or "")
    rules = tuple(_flatten(consent_id, provision, None, 0, "Consent.provision", instants))
    return ConsentTerms(
        consent=consent_id,
        patient=reference[8:],
        active=consent.get("status") == "active",
        date_time=moment[0],
        grantee=frozenset(rule.actor for rule in rules if rule.depth == 0 and rule.actor is not None),
        rules=rules,
    )


def in_force(consents: Iterable[ConsentTerms]) -> list[ConsentTerms]:
    """The Consents that count: active ones, and of those about the same grantee only the newest."""
    newest: dict[frozenset[str], ConsentTerms] = {}
    for terms in consents:
        if not terms.active:
            continue
        known = newest.get(terms.grantee)
        if known is None or (terms.date_time, terms.consent) > (known.date_time, known.consent):
            newest[terms.grantee] = terms
    return sorted(newest.values(), key=lambda terms: terms.consent)


def rule_matches(rule: Rule, request: Request, item: Item) -> bool:
    if rule.actor is not None and rule.actor not in request.actors:
        return False
    if rule.purposes is not None and request.purpose not in rule.purposes:
        return False
    if rule.resource_types is not None and item.resource_type not in rule.resource_types:
        return False
    if rule.labels is not None and not rule.labels & item.labels:
        return False
    if rule.valid is not None and not rule.valid.overlaps(request.now, request.now):
        return False
    if rule.data_period is not None:
        # data without a date cannot be placed in a period: a deny covers it, a permit does not
        if not item.dates:
            return rule.effect is Effect.DENY
        return any(rule.data_period.overlaps(low, high) for low, high in item.dates)
    return True


def permitted(rules: Sequence[Rule], request: Request, item: Item, base: BasePolicy) -> bool:
    """One person's decision for one item: their in-force rules, then the base policy."""
    matching = [rule for rule in rules if rule_matches(rule, request, item)]
    denied = any(
        deny.effect is Effect.DENY
        and not any(
            permit.effect is Effect.PERMIT and permit.consent == deny.consent and permit.depth > deny.depth
            for permit in matching
        )
        for deny in matching
    )
    if denied:
        return False
    return base is BasePolicy.OPT_OUT or any(rule.effect is Effect.PERMIT for rule in matching)


@dataclass(frozen=True)
class _Conditions:
    actor: tuple[str, ...] | None = None
    purposes: frozenset[str] | None = None
    resource_types: frozenset[str] | None = None
    labels: frozenset[tuple[str, str]] | None = None
    data_period: Span | None = None
    valid: Span | None = None


def _flatten(
    consent: str, provision: Any, above: _Conditions | None, depth: int, path: str, instants: Instants
) -> Iterable[Rule]:
    if not isinstance(provision, dict):
        raise UnreadableConsentError(f"{path} must be an object.", path)
    if depth >= MAX_DEPTH:
        raise UnreadableConsentError(f"{path} nests provisions deeper than {MAX_DEPTH} levels.", path)
    unknown = sorted(set(provision) - READ_PROVISION_KEYS)
    if unknown:
        raise UnreadableConsentError(
            f"{path} uses {', '.join(unknown)}, which this platform's consent policy does not read.", path
        )
    effect = provision.get("type")
    if effect not in (Effect.PERMIT, Effect.DENY):
        raise UnreadableConsentError(f"{path}.type must be permit or deny.", f"{path}.type")
    conditions = _conditions(provision, above or _Conditions(), path, instants)
    for actor in conditions.actor or (None,):
        yield Rule(
            consent=consent,
            depth=depth,
            effect=Effect(effect),
            actor=actor,
            purposes=conditions.purposes,
            resource_types=conditions.resource_types,
            labels=conditions.labels,
            data_period=conditions.data_period,
            valid=conditions.valid,
        )
    for index, nested in enumerate(provision.get("provision") or []):
        yield from _flatten(consent, nested, conditions, depth + 1, f"{path}.provision[{index}]", instants)


def _conditions(provision: dict[str, Any], above: _Conditions, path: str, instants: Instants) -> _Conditions:
    """The provision's conditions joined with those above it. Actors and labels are one-of lists, so a branch
    may name them at one level only (two levels would need an and-of-ors that a rule row does not hold)."""
    conditions = above
    if "actor" in provision:
        if above.actor is not None:
            raise UnreadableConsentError(
                f"{path}.actor: actors are already named by a provision above.", f"{path}.actor"
            )
        conditions = replace(conditions, actor=tuple(_actor(item, f"{path}.actor") for item in provision["actor"]))
    if "securityLabel" in provision:
        if above.labels is not None:
            raise UnreadableConsentError(
                f"{path}.securityLabel: labels are already named by a provision above.", f"{path}.securityLabel"
            )
        labels = frozenset(_system_code(item, f"{path}.securityLabel") for item in provision["securityLabel"])
        conditions = replace(conditions, labels=labels)
    if "purpose" in provision:
        purposes = frozenset(_purpose(item, f"{path}.purpose") for item in provision["purpose"])
        conditions = replace(conditions, purposes=_narrowed(above.purposes, purposes))
    if "class" in provision:
        types = frozenset(_resource_type(item, f"{path}.class") for item in provision["class"])
        conditions = replace(conditions, resource_types=_narrowed(above.resource_types, types))
    if "dataPeriod" in provision:
        span = _span(provision["dataPeriod"], f"{path}.dataPeriod", instants)
        conditions = replace(conditions, data_period=span.within(above.data_period))
    if "period" in provision:
        span = _span(provision["period"], f"{path}.period", instants)
        conditions = replace(conditions, valid=span.within(above.valid))
    return conditions


def _narrowed(above: frozenset[str] | None, here: frozenset[str]) -> frozenset[str]:
    return here if above is None else above & here


def _actor(actor: Any, path: str) -> str:
    reference = actor.get("reference") if isinstance(actor, dict) else None
    if not isinstance(reference, dict):
        raise UnreadableConsentError(f"{path} needs a reference.", path)
    literal = reference.get("reference")
    if isinstance(literal, str):
        kind, _, logical_id = literal.partition("/")
        if kind in ACTOR_REFERENCE_TYPES and logical_id and "/" not in logical_id:
            return literal
        raise UnreadableConsentError(
            f"{path}: an actor is Organization/<id> or Practitioner/<id>, not '{literal}'.", path
        )
    identifier = reference.get("identifier")
    if isinstance(identifier, dict) and isinstance(identifier.get("value"), str) and identifier["value"]:
        if identifier.get("system") == CLIENT_ID_SYSTEM:
            return f"client:{identifier['value']}"
        if identifier.get("system") == MUNICIPALITY_SYSTEM:
            return f"municipality:{identifier['value']}"
    raise UnreadableConsentError(
        f"{path}: an actor by identifier names an app ({CLIENT_ID_SYSTEM}) or a municipality ({MUNICIPALITY_SYSTEM}).",
        path,
    )


def _purpose(coding: Any, path: str) -> str:
    system, code = _system_code(coding, path)
    purpose = PURPOSE_CODES.get((system, code))
    if purpose is None:
        known = ", ".join(sorted(value for value in PURPOSE_CODES.values()))
        raise UnreadableConsentError(
            f"{path}: purpose {system}|{code} is not one of {known} ({TSUNAGI_PURPOSE_SYSTEM}).", path
        )
    return purpose


def _resource_type(coding: Any, path: str) -> str:
    system, code = _system_code(coding, path)
    if system != RESOURCE_TYPES_SYSTEM or not code[:1].isupper():
        raise UnreadableConsentError(f"{path}: a class is a resource type coded in {RESOURCE_TYPES_SYSTEM}.", path)
    return code


def _system_code(coding: Any, path: str) -> tuple[str, str]:
    if isinstance(coding, dict) and isinstance(coding.get("system"), str) and isinstance(coding.get("code"), str):
        return coding["system"], coding["code"]
    raise UnreadableConsentError(f"{path} needs a system and a code.", path)


def _span(period: Any, path: str, instants: Instants) -> Span:
    if not isinstance(period, dict) or not (set(period) & {"start", "end"}):
        raise UnreadableConsentError(f"{path} needs a start or an end.", path)
    low = high = None
    if "start" in period:
        low = _instant(period["start"], f"{path}.start", instants)[0]
    if "end" in period:
        high = _instant(period["end"], f"{path}.end", instants)[1]
    return Span(low, high)


def _instant(value: Any, path: str, instants: Instants) -> tuple[datetime, datetime]:
    found = instants(value) if isinstance(value, str) else None
    if found is None:
        raise UnreadableConsentError(f"{path} is not a FHIR date or dateTime.", path)
    return found


def _has_coding(concept: Any, system: str, code: str) -> bool:
    codings = concept.get("coding") if isinstance(concept, dict) else None
    return any(
        isinstance(coding, dict) and coding.get("system") == system and coding.get("code") == code
        for coding in codings or []
    )
