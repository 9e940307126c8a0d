"""The inference gateway: what it needs from infrastructure (metering, rate limits)."""
