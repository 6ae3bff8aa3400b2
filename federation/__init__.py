"""The FHIR store: one write path (storage.services), one read path (search.selectors), the REST API."""
