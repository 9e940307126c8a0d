"""Serving use cases: deployments of models, and what their controller reports."""
