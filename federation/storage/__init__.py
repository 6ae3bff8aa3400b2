"""Writing the store: services.py is the only code that writes FHIR resources."""
