"""``SubmissionSpec``: the typed record of ``submissions/<name>/submission.yaml``."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.contract.validation import validate_file
from harness.errors import SchemaError, SubmissionError
from harness.paths import submissions_dir


@dataclass(frozen=True)
class Variant:
    name: str
    model_id: str
    checkpoint: str
    embedding_dim: int
    native_resolution: int
    normalization: dict[str, list[float]]
    license: str
    parameters: int | None = None


@dataclass(frozen=True)
class SubmissionSpec:
    name: str
    version: str
    family: str
    folder: Path
    entrypoint: list[str]
    kinds: tuple[str, ...]
    pooling: str
    default_variant: str
    smoke_variant: str
    variants: dict[str, Variant]
    needs_torch: bool = True
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def dockerfile(self) -> Path:
        return self.folder / "Dockerfile"

    @property
    def manifest_path(self) -> Path:
        return self.folder / "submission.yaml"

    def variant(self, name: str | None) -> Variant:
        name = name or self.default_variant
        if name not in self.variants:
            raise SubmissionError(
                f"{self.manifest_path}: no variant {name!r} (variants: {', '.join(self.variants)})"
            )
        return self.variants[name]


def load_submission(name_or_folder: str | Path) -> SubmissionSpec:
    folder = Path(name_or_folder)
    if not (folder / "submission.yaml").exists() and not folder.is_absolute():
        candidate = submissions_dir() / str(name_or_folder)
        if candidate.exists():
            folder = candidate
    if not folder.is_dir():
        raise SubmissionError(f"{folder}: no such submission folder")
    path = folder / "submission.yaml"
    doc = validate_file(path, "manifest")
    problems = []
    if doc["name"] != folder.name:
        problems.append(f"field 'name': {doc['name']!r} must equal the folder name {folder.name!r}")
    for key in ("default_variant", "smoke_variant"):
        if doc[key] not in doc["variants"]:
            problems.append(f"field '{key}': {doc[key]!r} is not one of variants ({', '.join(doc['variants'])})")
    if problems:
        raise SchemaError(str(path), problems)
    if not (folder / "Dockerfile").exists():
        raise SubmissionError(f"{folder / 'Dockerfile'}: missing; every submission builds from its own Dockerfile")
    variants = {
        name: Variant(
            name=name,
            model_id=v["model_id"],
            checkpoint=v["checkpoint"],
            embedding_dim=v["embedding_dim"],
            native_resolution=v["native_resolution"],
            normalization=v["normalization"],
            license=v["license"],
            parameters=v.get("parameters"),
        )
        for name, v in doc["variants"].items()
    }
    return SubmissionSpec(
        name=doc["name"],
        version=doc["version"],
        family=doc["family"],
        folder=folder.resolve(),
        entrypoint=doc["entrypoint"],
        kinds=tuple(doc.get("kinds", ["embed"])),
        pooling=doc["pooling"],
        default_variant=doc["default_variant"],
        smoke_variant=doc["smoke_variant"],
        variants=variants,
        needs_torch=doc.get("needs_torch", True),
        raw=doc,
    )


def available_submissions() -> list[str]:
    root = submissions_dir()
    return sorted(p.parent.name for p in root.glob("*/submission.yaml")) if root.exists() else []
