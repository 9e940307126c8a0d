"""The audit read model: one row per audited event, by organization."""
