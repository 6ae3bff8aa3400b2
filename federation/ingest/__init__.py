"""Ingest: records from connectors enter the store here, labelled, stamped with their source, with Provenance."""
