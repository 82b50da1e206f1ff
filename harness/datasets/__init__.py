"""Datasets: typed specs from ``datasets/<name>/dataset.yaml``, adapters for raw layouts, frozen split
locks, and the decode-once prepared cache."""
