"""Adapters: settings, storage, network clients, logging and metrics."""
