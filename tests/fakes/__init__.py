"""Fakes of external services (wire-exact), for tests that must not use the network."""
