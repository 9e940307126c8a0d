"""Serving backends: where deployments' replicas run."""
