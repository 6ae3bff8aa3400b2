"""The FHIR REST API: one view class per interaction, routed by URL and method."""
