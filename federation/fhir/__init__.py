"""FHIR R4 knowledge: the spec's resource types and structural validation (R4B models)."""
