"""Use cases: one eventsourcing Application per bounded context, one method per command."""
