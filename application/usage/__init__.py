"""Recording usage idempotently by its source."""
