"""Read model of the serving context: deployments, their replicas, and what the gateway routes."""
