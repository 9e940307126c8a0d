"""Read models: SQLAlchemy tables kept up to date from the event log, exactly once."""
