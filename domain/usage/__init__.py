"""Usage: what an organization consumed, one record per source, for billing."""
