"""Shared fixtures: small programs against the machine layer."""
