"""The inference gateway: OpenAI's inference routes, routed to deployments' ready replicas."""
