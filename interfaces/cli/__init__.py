"""The `bitstride` command."""
