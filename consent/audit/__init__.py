"""The audit trail: an append-only, hash-chained record of every access to health data, served as AuditEvent."""
