"""The platform as a SMART on FHIR authorisation server (django-oauth-toolkit underneath)."""
