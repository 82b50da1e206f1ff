"""Schema validation whose every error names the source file and the field path."""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from harness.errors import SchemaError

SCHEMAS = ("manifest", "task", "result", "record", "dataset")


@lru_cache(maxsize=None)
def load_schema(name: str) -> dict[str, Any]:
    if name not in SCHEMAS:
        raise ValueError(f"unknown schema {name!r}; known: {SCHEMAS}")
    text = resources.files("harness.contract").joinpath(f"schemas/{name}.schema.json").read_text()
    return json.loads(text)


@lru_cache(maxsize=None)
def _validator(name: str) -> jsonschema.protocols.Validator:
    schema = load_schema(name)
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


def _field(error: jsonschema.ValidationError) -> str:
    path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path)
    return path.lstrip(".") or "(top level)"


def describe_errors(document: Any, schema_name: str) -> list[str]:
    errors = sorted(_validator(schema_name).iter_errors(document), key=lambda e: list(map(str, e.absolute_path)))
    return [f"field '{_field(e)}': {e.message}" for e in errors]


def validate_document(document: Any, schema_name: str, source: str) -> None:
    """Raise :class:`SchemaError` listing every problem as ``field 'a.b[0]': message``."""
    problems = describe_errors(document, schema_name)
    if problems:
        raise SchemaError(source, problems)


def read_document(path: Path) -> Any:
    """Read JSON or YAML, turning parse errors into a :class:`SchemaError` naming the file."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SchemaError(str(path), ["file is missing"]) from None
    try:
        if path.suffix in (".yaml", ".yml"):
            return yaml.safe_load(text)
        return json.loads(text)
    except (yaml.YAMLError, json.JSONDecodeError) as exc:
        raise SchemaError(str(path), [f"cannot be parsed: {exc}"]) from None


def validate_file(path: Path, schema_name: str) -> Any:
    document = read_document(path)
    validate_document(document, schema_name, str(path))
    return document
