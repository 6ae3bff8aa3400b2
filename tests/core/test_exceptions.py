"""Unexpected failures still answer with an OperationOutcome and reveal nothing."""

from __future__ import annotations

from core.exceptions import fhir_exception_handler


def test_unexpected_error_is_500_operation_outcome_without_details(caplog):
    response = fhir_exception_handler(RuntimeError("secret patient detail"), {"view": object()})

    assert response.status_code == 500
    assert response.data["resourceType"] == "OperationOutcome"
    assert "secret" not in str(response.data)
    assert "RuntimeError" in caplog.text
    assert "secret" not in caplog.text  # messages may quote personal data; logs keep type and frames
