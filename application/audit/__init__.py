"""Audit: stored domain events described for auditors (type, resource, actor, redacted payload)."""
