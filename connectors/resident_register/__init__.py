"""Resident register (住民基本台帳) extract: residents.csv -> Patient, Coverage and household Groups;
movements.csv is checked row by row (docs/connectors/resident-register.md, "Mapping to FHIR")."""
