"""FHIR content as records: structure checks, and the idempotent form of a loose resource.

A transaction or batch Bundle is the sender's own set of writes and is passed on as it is. A resource that
arrives loose (a collection Bundle's entry, an NDJSON line, a lone resource file) becomes a conditional
update on a business identifier, so that re-sending it changes nothing: its first identifier (for a Patient,
the one under the source's patient identifier system first), else `<source record system>|<Type>/<id>`.
Ids are the sending server's, not ours: they are dropped, and kept as that record identifier, which every
resource that had an id carries, so that a reference `Type/id` from any file of the same source can become
the conditional reference `Type?identifier=<source record system>|Type/id`. Deep validation is the server's.
"""

from __future__ import annotations

import functools
import re
from typing import Any

from connectors.base import SourceInfo
from connectors.jp import FieldError, Json, conditional_reference, full_url, put_entry
from core.references import Located, ReferencePath, references_located, references_replaced

# Every resource type of FHIR R4 (4.0.1). The server stores those R4B still models; the others fail at ingest.
RESOURCE_TYPES = frozenset(
    (
        "Account", "ActivityDefinition", "AdverseEvent", "AllergyIntolerance", "Appointment", "AppointmentResponse",
        "AuditEvent", "Basic", "Binary", "BiologicallyDerivedProduct", "BodyStructure", "Bundle", "CapabilityStatement",
        "CarePlan", "CareTeam", "CatalogEntry", "ChargeItem", "ChargeItemDefinition", "Claim", "ClaimResponse",
        "ClinicalImpression", "CodeSystem", "Communication", "CommunicationRequest", "CompartmentDefinition",
        "Composition", "ConceptMap", "Condition", "Consent", "Contract", "Coverage", "CoverageEligibilityRequest",
        "CoverageEligibilityResponse", "DetectedIssue", "Device", "DeviceDefinition", "DeviceMetric", "DeviceRequest",
        "DeviceUseStatement", "DiagnosticReport", "DocumentManifest", "DocumentReference", "EffectEvidenceSynthesis",
        "Encounter", "Endpoint", "EnrollmentRequest", "EnrollmentResponse", "EpisodeOfCare", "EventDefinition",
        "Evidence", "EvidenceVariable", "ExampleScenario", "ExplanationOfBenefit", "FamilyMemberHistory", "Flag",
        "Goal", "GraphDefinition", "Group", "GuidanceResponse", "HealthcareService", "ImagingStudy", "Immunization",
        "ImmunizationEvaluation", "ImmunizationRecommendation", "ImplementationGuide", "InsurancePlan", "Invoice",
        "Library", "Linkage", "List", "Location", "Measure", "MeasureReport", "Media", "Medication",
        "MedicationAdministration", "MedicationDispense", "MedicationKnowledge", "MedicationRequest",
        "MedicationStatement", "MedicinalProduct", "MedicinalProductAuthorization", "MedicinalProductContraindication",
        "MedicinalProductIndication", "MedicinalProductIngredient", "MedicinalProductInteraction",
        "MedicinalProductManufactured", "MedicinalProductPackaged", "MedicinalProductPharmaceutical",
        "MedicinalProductUndesirableEffect", "MessageDefinition", "MessageHeader", "MolecularSequence", "NamingSystem",
        "NutritionOrder", "Observation", "ObservationDefinition", "OperationDefinition", "OperationOutcome",
        "Organization", "OrganizationAffiliation", "Patient", "PaymentNotice", "PaymentReconciliation", "Person",
        "PlanDefinition", "Practitioner", "PractitionerRole", "Procedure", "Provenance", "Questionnaire",
        "QuestionnaireResponse", "RelatedPerson", "RequestGroup", "ResearchDefinition", "ResearchElementDefinition",
        "ResearchStudy", "ResearchSubject", "RiskAssessment", "RiskEvidenceSynthesis", "Schedule", "SearchParameter",
        "ServiceRequest", "Slot", "Specimen", "SpecimenDefinition", "StructureDefinition", "StructureMap",
        "Subscription", "Substance", "SubstanceNucleicAcid", "SubstancePolymer", "SubstanceProtein",
        "SubstanceReferenceInformation", "SubstanceSourceMaterial", "SubstanceSpecification", "SupplyDelivery",
        "SupplyRequest", "Task", "TerminologyCapabilities", "TestReport", "TestScript", "ValueSet",
        "VerificationResult", "VisionPrescription"
    )
)  # fmt: skip
# Types whose `identifier` is one Identifier, not a list.
SINGLE_IDENTIFIER_TYPES = frozenset(
    (
        "AdverseEvent", "Bundle", "Composition", "ConceptMap", "QuestionnaireResponse", "SpecimenDefinition",
        "TestReport", "TestScript"
    )
)  # fmt: skip
# Types without an identifier: a loose one cannot be recognised when re-sent.
NO_IDENTIFIER_TYPES = frozenset(
    (
        "AuditEvent", "Binary", "CapabilityStatement", "CompartmentDefinition", "GraphDefinition",
        "ImplementationGuide", "Linkage", "MedicationKnowledge", "MessageHeader", "NamingSystem", "OperationDefinition",
        "OperationOutcome", "Provenance", "SearchParameter", "Subscription", "TerminologyCapabilities",
        "VerificationResult"
    )
)  # fmt: skip
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
COPIED_BUNDLE_TYPES = ("transaction", "batch")
LOOSE_BUNDLE_TYPES = ("collection",)
SEARCH_BUNDLE_TYPE = "searchset"  # what a server answers: read as loose resources when pulled, not offered to senders
OUTCOME_TEXT_LIMIT = 500
# A relative literal reference to another server's resource: Type/id, maybe with its version.
_RELATIVE = re.compile(r"(?P<type>[A-Z][A-Za-z]+)/(?P<id>[A-Za-z0-9\-.]{1,64})(?:/_history/[A-Za-z0-9\-.]{1,64})?")
_CONDITIONAL_URL_TYPE = re.compile(r"(?P<type>[A-Za-z]+)(?:[/?].*)?")


def check_resource(resource: Any, where: str) -> str:
    """The resource's type; FieldError when `resource` is not a JSON object with a known resourceType.
    `where` is its place in the file (`entry[2].resource`), empty for the file's or line's own object."""
    subject = where or "the JSON value"
    field = f"{where}.resourceType" if where else "resourceType"
    if not isinstance(resource, dict):
        raise FieldError(where, f"{subject} is a JSON {_json_kind(resource)}, not a FHIR resource")
    resource_type = resource.get("resourceType")
    if not isinstance(resource_type, str) or not resource_type:
        raise FieldError(field, f"{subject} has no resourceType, so it is not a FHIR resource")
    if resource_type not in RESOURCE_TYPES:
        raise FieldError(field, f"{subject} has resourceType '{resource_type}', which is not a FHIR R4 resource type")
    return resource_type


def _json_kind(value: Any) -> str:
    kinds = {list: "array", str: "string", bool: "boolean", type(None): "null"}
    return kinds.get(type(value), "number")


def bundle_entries(bundle: Json) -> list[Any]:
    """The Bundle's entries; FieldError when it has none or `entry` is not a list."""
    entries = bundle.get("entry")
    if not entries:
        raise FieldError("Bundle.entry", f"the {bundle.get('type')} Bundle has no entries")
    if not isinstance(entries, list):
        raise FieldError("Bundle.entry", "Bundle.entry is not a JSON array")
    return entries


def check_write_entry(entry: Any, where: str) -> Json:
    """A transaction or batch entry as sent; FieldError when it does not write one resource of a known
    type (a GET or HEAD reads: an ingested Bundle stores, it does not query)."""
    if not isinstance(entry, dict):
        raise FieldError(where, f"{where} is a JSON {_json_kind(entry)}, not a Bundle entry")
    request = entry.get("request")
    if not isinstance(request, dict):
        raise FieldError(f"{where}.request", f"{where} has no request, so what to do with it is not said")
    method, url = request.get("method"), request.get("url")
    if method not in WRITE_METHODS:
        raise FieldError(
            f"{where}.request.method",
            f"{where}.request.method '{method}' is not one of {', '.join(sorted(WRITE_METHODS))}: an ingested "
            "Bundle writes resources, it does not read them",
        )
    url_type = _CONDITIONAL_URL_TYPE.fullmatch(url) if isinstance(url, str) else None
    if url_type is None or url_type["type"] not in RESOURCE_TYPES:
        raise FieldError(f"{where}.request.url", f"{where}.request.url '{url}' does not name a FHIR R4 resource type")
    if method in ("POST", "PUT"):
        resource_type = check_resource(entry.get("resource"), f"{where}.resource")
        if resource_type != url_type["type"]:
            raise FieldError(
                f"{where}.request.url",
                f"{where}.request.url '{url}' is for {url_type['type']} but the resource is a {resource_type}",
            )
    return entry


class Loose:
    """Turns loose resources of one file into idempotent entries; `targets` maps what references in the file
    may name (fullUrls, Type/id) to the conditional reference of the resource they name."""

    def __init__(self, source: SourceInfo, targets: dict[str, str] | None = None) -> None:
        self.source = source
        self.targets = targets or {}
        self.record_system = source.record_system  # a property that builds it: asked for several times a resource

    def key(self, resource: Json, full_url_: str | None) -> tuple[str, str]:
        """(system, value) the resource is updated on; FieldError when it has nothing stable to key on.

        The first identifier with system and value, else the sender's Type/id (or fullUrl). A Patient is
        keyed on the source's patient number when it has one, else on Type/id before any other identifier:
        its other identifiers (insurance card, another institution's number) are shared with other sources'
        Patients, which an update on them would overwrite."""
        resource_type = resource["resourceType"]
        if resource_type == "OperationOutcome":  # e.g. a line of a Bulk export's error file
            raise FieldError(resource_type, f"the sender reported a problem instead of data: {outcome_text(resource)}")
        if resource_type in NO_IDENTIFIER_TYPES:
            raise FieldError(
                f"{resource_type}.identifier",
                f"a {resource_type} has no identifier element, so a re-sent copy could not be recognised: send it "
                "in a transaction Bundle",
            )
        identifiers = _identifiers(resource)
        sender_key = self._sender_key(resource, full_url_)
        sender = [(self.record_system, sender_key)] if sender_key is not None else []
        if resource_type == "Patient":
            own = [pair for pair in identifiers if pair[0] == self.source.patient_identifier_system]
            candidates = own + sender + identifiers
        else:
            candidates = identifiers + sender
        if not candidates:
            raise FieldError(
                f"{resource_type}.identifier",
                f"the {resource_type} has neither an identifier with system and value nor an id, so a re-sent copy "
                "could not be recognised",
            )
        return candidates[0]

    @staticmethod
    def _sender_key(resource: Json, full_url_: str | None) -> str | None:
        """The sender's name for the resource: Type/id, else its fullUrl (a collection entry without id)."""
        resource_id = resource.get("id")
        if isinstance(resource_id, str) and resource_id:
            return f"{resource['resourceType']}/{resource_id}"
        return full_url_

    def target(self, resource: Json, full_url_: str | None) -> str:
        """The conditional reference to `resource`, for references to it from the same file."""
        system, value = self.key(resource, full_url_)
        return conditional_reference(resource["resourceType"], system, value)

    def entry(self, resource: Json, full_url_: str | None, where: str) -> tuple[Json, Located]:
        """The idempotent entry: a conditional update on the resource's key, its references rewritten, the
        sender's id dropped and kept as the record identifier; and its resource's references (see
        ParsedRecord.located), found in the one walk that rewrites them."""
        system, value = self.key(resource, full_url_)
        resource_type = resource["resourceType"]
        sender_key = self._sender_key(resource, full_url_)
        located: Located = []
        changed: Located = []
        for path, reference in references_located(resource):
            new = self._reference(reference)
            if new is None:
                where = f"{where}{_path_text(path)}"
                raise FieldError(where, f"{where} '{reference}' names no resource of this file")
            located.append((path, new))
            if new is not reference:
                changed.append((path, new))
        rewritten = references_replaced(resource, changed)
        stored = dict(rewritten) if rewritten is resource else rewritten  # its own top level: changed below
        stored.pop("id", None)
        _drop_server_meta(stored)
        if sender_key is not None and resource_type not in SINGLE_IDENTIFIER_TYPES:
            record = {"system": self.record_system, "value": sender_key}
            identifiers = stored.get("identifier")
            identifiers = identifiers if isinstance(identifiers, list) else []
            if record not in identifiers:
                stored["identifier"] = [*identifiers, record]
        elif system == self.record_system:
            stored["identifier"] = {"system": system, "value": value}
            located = [(path, reference) for path, reference in located if path[0] != "identifier"]  # replaced
        entry = put_entry(full_url(self.source.code, f"{system}|{value}", resource_type), stored, system, value)
        return entry, located

    def _reference(self, reference: str) -> str | None:
        """What a reference of the file becomes; None for a urn:uuid: or urn:oid: that names no resource of it."""
        target = self.targets.get(reference)
        if target is not None:
            return target
        if reference.startswith(("urn:uuid:", "urn:oid:")):
            return None
        return _record_reference(self.record_system, reference) or reference


@functools.lru_cache(maxsize=4096)  # line after line names the same Patients and Encounters
def _record_reference(record_system: str, reference: str) -> str | None:
    """The conditional reference on the record identifier that a relative reference `Type/id` becomes; None
    for any other reference."""
    relative = _RELATIVE.fullmatch(reference)
    if relative is None or relative["type"] not in RESOURCE_TYPES:
        return None  # contained (#id), conditional, absolute or logical: the server's concern
    target_type = relative["type"]
    if target_type in SINGLE_IDENTIFIER_TYPES or target_type in NO_IDENTIFIER_TYPES:
        return None  # such a target carries no record identifier to resolve it by
    return conditional_reference(target_type, record_system, f"{target_type}/{relative['id']}")


def outcome_text(outcome: Json) -> str:
    """An OperationOutcome's issues on one line (severity, then what the issue says)."""
    issues = outcome.get("issue")
    texts = [_issue_text(issue) for issue in issues if isinstance(issue, dict)] if isinstance(issues, list) else []
    text = " ".join("; ".join(texts).split()) or "an OperationOutcome without issues"
    return text if len(text) <= OUTCOME_TEXT_LIMIT else f"{text[: OUTCOME_TEXT_LIMIT - 1]}…"


def _issue_text(issue: Json) -> str:
    details = issue.get("details")
    details = details if isinstance(details, dict) else {}
    codings = details.get("coding")
    codings = codings if isinstance(codings, list) else []
    said = [issue.get("diagnostics"), details.get("text"), *(c.get("display") for c in codings if isinstance(c, dict))]
    text = next((item for item in said if isinstance(item, str) and item.strip()), None) or str(issue.get("code"))
    return f"{issue.get('severity', 'error')}: {text}"


def _identifiers(resource: Json) -> list[tuple[str, str]]:
    """(system, value) of each of the resource's identifiers that has both."""
    identifiers = resource.get("identifier")
    if resource["resourceType"] in SINGLE_IDENTIFIER_TYPES:
        identifiers = [identifiers]
    if not isinstance(identifiers, list):
        return []
    return [
        (item["system"], item["value"])
        for item in identifiers
        if isinstance(item, dict) and isinstance(item.get("system"), str) and isinstance(item.get("value"), str)
    ]


def relative_name(resource: Json) -> str | None:
    """`Type/id` of a resource that has an id."""
    resource_id = resource.get("id")
    return f"{resource['resourceType']}/{resource_id}" if isinstance(resource_id, str) and resource_id else None


def _path_text(path: ReferencePath) -> str:
    """A reference's path as a problem names it: `.performer[0].reference`."""
    return "".join(f"[{key}]" if isinstance(key, int) else f".{key}" for key in path)


def _drop_server_meta(resource: Json) -> None:
    """versionId and lastUpdated are the sending server's bookkeeping; ours sets its own. The meta is replaced,
    not changed, as `resource` shares it with what was sent."""
    meta = resource.get("meta")
    if isinstance(meta, dict):
        kept = {key: value for key, value in meta.items() if key not in ("versionId", "lastUpdated")}
        if kept:
            resource["meta"] = kept
        else:
            del resource["meta"]


def references(node: Any) -> list[str]:
    """Every Reference.reference string in `node`, for ordering a collection's entries."""
    if isinstance(node, dict):
        return [
            found
            for key, value in node.items()
            for found in ([value] if key == "reference" and isinstance(value, str) else references(value))
        ]
    if isinstance(node, list):
        return [found for item in node for found in references(item)]
    return []
