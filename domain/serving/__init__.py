"""Deployments: a desired state the caller sets, and the observed state its replicas report."""
