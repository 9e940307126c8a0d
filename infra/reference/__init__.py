"""The reference backend for development and tests: a tiny byte-level LM, not a real LLM."""
