"""The auth service's HTTP app: users, sessions, tokens and the JWKS."""
