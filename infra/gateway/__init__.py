"""The inference gateway's infrastructure: usage metering and rate limits."""
