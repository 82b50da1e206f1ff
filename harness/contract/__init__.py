"""Contract v1: JSON Schemas for the manifest, task.json, result.json and the result record."""

from harness.contract.validation import load_schema, validate_document, validate_file

__all__ = ["load_schema", "validate_document", "validate_file"]
