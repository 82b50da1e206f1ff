"""Benchmarks share the tests' fixtures (tests/conftest.py); nothing extra here."""
