"""Finding (or, for the synthetic set, generating) a dataset's raw files, and reading them."""

from __future__ import annotations

from pathlib import Path

from harness.datasets import synthetic
from harness.datasets.folder import files_on_disk, is_folder_layout, locate_folder, raw_for_freeze, raw_from_lock, read_table
from harness.datasets.lock import SplitLock, verify_content, verify_files
from harness.datasets.medmnist import read_medmnist_npz
from harness.datasets.raw import RawDataset
from harness.datasets.spec import DatasetSpec
from harness.errors import DatasetError
from harness.paths import data_search_path, medbench_home


def locate_source(spec: DatasetSpec, data: Path | None = None) -> Path:
    """The raw file for ``spec``: ``data`` (a file, or a folder holding it), else the search path.
    For folder layouts (CSV + images), the dataset folder."""
    if is_folder_layout(spec):
        return locate_folder(spec, data)
    name = spec.layout["file"]
    if spec.layout["format"] == "synthetic-medmnist-npz":
        path = medbench_home() / "data" / name
        if not path.exists():
            gen = spec.layout.get("generator", {})
            synthetic.generate(
                path,
                counts=gen.get("counts", {"train": 600, "val": 100, "test": 300}),
                num_classes=spec.num_classes,
                size=spec.canonical_resolution,
                seed=gen.get("seed", 0),
            )
        return path
    if data is not None:
        candidate = data / name if data.is_dir() else data
        if not candidate.exists():
            raise DatasetError(f"{candidate}: not found (dataset {spec.name} reads {name})")
        return candidate
    for folder in data_search_path():
        if (folder / name).exists():
            return folder / name
    hint = spec.layout.get("download_url", "")
    searched = ", ".join(str(p) for p in data_search_path())
    raise DatasetError(
        f"dataset {spec.name}: {name} not found in {searched}. Pass --data PATH or set MEDBENCH_DATA_DIR"
        + (f"; the official file is at {hint}" if hint else "")
    )


def read_source(spec: DatasetSpec, path: Path) -> RawDataset:
    """The dataset split for freezing: the publisher's split (MedMNIST), or computed (folder layouts)."""
    if is_folder_layout(spec):
        return raw_for_freeze(spec, read_table(spec, path))
    if spec.layout["format"] in ("medmnist-npz", "synthetic-medmnist-npz"):
        return read_medmnist_npz(spec, path)
    raise DatasetError(f"{spec.folder / 'dataset.yaml'}: field 'layout.format' {spec.layout['format']!r} has no adapter")


def verify_source(spec: DatasetSpec, path: Path, lock: SplitLock, content: bool = True) -> RawDataset | None:
    """Check every source file against the lock (naming each changed, missing or extra file); with
    ``content``, also read the frozen split back (from the lock's ids) and check ids, groups and labels."""
    if is_folder_layout(spec):
        table = read_table(spec, path)
        verify_files(lock, files_on_disk(table, list(lock.source_files)))
        raw = raw_from_lock(spec, table, lock.splits) if content else None
    else:
        verify_files(lock, {path.name: path})
        raw = read_source(spec, path) if content else None
    if raw is not None:
        verify_content(lock, raw)
    return raw
