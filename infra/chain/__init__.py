"""Tamper evidence: every stored event is hash-chained to the one before it in its log."""
