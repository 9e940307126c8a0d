"""Aggregates, events and rules: stdlib and eventsourcing.domain only, no I/O."""
