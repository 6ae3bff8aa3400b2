"""Connectors: one folder per source family, each a parser and a mapping to FHIR (issue 5)."""
