"""OperationOutcome: how every error leaves the platform.

Code anywhere raises `FhirError`; the API layer turns it into an OperationOutcome with its status.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Issue:
    """One OperationOutcome.issue: issue-type `code`, human `diagnostics`, FHIRPath `expression`s."""

    code: str
    diagnostics: str
    severity: str = "error"
    expression: tuple[str, ...] = field(default_factory=tuple)

    def as_fhir(self) -> dict[str, Any]:
        issue: dict[str, Any] = {
            "severity": self.severity,
            "code": self.code,
            "diagnostics": self.diagnostics,
        }
        if self.expression:
            issue["expression"] = list(self.expression)
        return issue


class FhirError(Exception):
    """An error that answers with `status` and an OperationOutcome of `issues`."""

    def __init__(self, status: int, issues: Issue | Iterable[Issue]) -> None:
        self.status = status
        self.issues = (issues,) if isinstance(issues, Issue) else tuple(issues)
        super().__init__("; ".join(issue.diagnostics for issue in self.issues))

    def outcome(self) -> dict[str, Any]:
        return operation_outcome(self.issues)

    def __reduce__(self) -> tuple[type[FhirError], tuple[int, tuple[Issue, ...]]]:
        """Picklable, so an error raised on an ingest worker process reaches the parent as it was."""
        return (FhirError, (self.status, self.issues))


def operation_outcome(issues: Iterable[Issue]) -> dict[str, Any]:
    return {"resourceType": "OperationOutcome", "issue": [issue.as_fhir() for issue in issues]}


def invalid(diagnostics: str, *, expression: str | None = None) -> FhirError:
    """400: the request itself is wrong (syntax, structure, ids, parameters)."""
    return FhirError(400, Issue("invalid", diagnostics, expression=(expression,) if expression else ()))


def not_supported(diagnostics: str) -> FhirError:
    return FhirError(400, Issue("not-supported", diagnostics))


def not_found(diagnostics: str) -> FhirError:
    return FhirError(404, Issue("not-found", diagnostics))


def gone(diagnostics: str) -> FhirError:
    return FhirError(410, Issue("deleted", diagnostics))


def conflict(status: int, diagnostics: str) -> FhirError:
    """409 (version or state conflict) or 412 (a precondition such as If-Match or a condition failed)."""
    return FhirError(status, Issue("conflict", diagnostics))


def informational(diagnostics: str) -> dict[str, Any]:
    """An OperationOutcome reporting success, for Prefer: return=OperationOutcome."""
    return operation_outcome([Issue("informational", diagnostics, severity="information")])
