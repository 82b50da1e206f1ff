"""``DatasetSpec``: the typed record of a ``dataset.yaml``."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.contract.validation import validate_file
from harness.errors import DatasetError
from harness.paths import datasets_dir


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    title: str
    task_type: str
    class_names: tuple[str, ...]
    modality: str
    original_channels: int
    official_metric: str
    secondary_metrics: tuple[str, ...]
    canonical_resolution: int
    layout: dict[str, Any]
    split_policy: str
    license: str
    folder: Path
    synthetic: bool = False
    grouping: str = "none"
    citation: str = ""
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def lock_path(self) -> Path:
        return self.folder / "splits.lock.json"

    def task_block(self) -> dict[str, Any]:
        """The ``dataset`` block of ``task.json``."""
        return {
            "name": self.name,
            "task_type": self.task_type,
            "class_names": list(self.class_names),
            "modality": self.modality,
            "original_channels": self.original_channels,
            "official_metric": self.official_metric,
        }


def load_spec(name_or_folder: str | Path) -> DatasetSpec:
    folder = Path(name_or_folder)
    if not (folder / "dataset.yaml").exists():
        folder = datasets_dir() / str(name_or_folder)
    path = folder / "dataset.yaml"
    if not path.exists():
        known = ", ".join(available_datasets()) or "none"
        raise DatasetError(f"no dataset {name_or_folder!r}: {path} does not exist (known: {known})")
    doc = validate_file(path, "dataset")
    if doc["name"] != folder.name:
        raise DatasetError(f"{path}: field 'name' is {doc['name']!r} but the folder is {folder.name!r}")
    return DatasetSpec(
        name=doc["name"],
        title=doc["title"],
        task_type=doc["task_type"],
        class_names=tuple(doc["class_names"]),
        modality=doc["modality"],
        original_channels=doc["original_channels"],
        official_metric=doc["official_metric"],
        secondary_metrics=tuple(doc.get("secondary_metrics", [])),
        canonical_resolution=doc["canonical_resolution"],
        layout=doc["layout"],
        split_policy=doc["split_policy"],
        license=doc["license"],
        folder=folder,
        synthetic=doc.get("synthetic", False),
        grouping=doc.get("grouping", "none"),
        citation=doc.get("citation", ""),
        raw=doc,
    )


def available_datasets() -> list[str]:
    root = datasets_dir()
    return sorted(p.parent.name for p in root.glob("*/dataset.yaml")) if root.exists() else []
