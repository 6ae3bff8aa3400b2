"""Shared kernel: FHIR wire format (renderers, parsers, negotiation) and OperationOutcome errors.

Imports no app of the project.
"""
