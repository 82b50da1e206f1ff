"""Folder layouts (CSV + image files): find the dataset folder, read it with its adapter, split it
at freeze time, or rebuild the frozen split from the lock's case ids at prepare time."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np

from harness.datasets.aptos2019 import read_aptos2019
from harness.datasets.cbis_ddsm import read_cbis_ddsm
from harness.datasets.chexpert import read_chexpert
from harness.datasets.isic2019 import read_isic2019
from harness.datasets.raw import SPLITS, RawDataset, RawSplit
from harness.datasets.spec import DatasetSpec
from harness.datasets.splitting import assign_splits
from harness.datasets.table import CaseTable, require_files
from harness.errors import DatasetError
from harness.paths import data_search_path

ADAPTERS: dict[str, Callable[[DatasetSpec, Path], CaseTable]] = {
    "isic2019-csv": read_isic2019,
    "aptos2019-csv": read_aptos2019,
    "chexpert-csv": read_chexpert,
    "cbis-ddsm-csv": read_cbis_ddsm,
}


def is_folder_layout(spec: DatasetSpec) -> bool:
    return spec.layout["format"] in ADAPTERS


def locate_folder(spec: DatasetSpec, data: Path | None = None) -> Path:
    """The folder holding ``layout.file``: ``data`` itself or ``data/<one of layout.folders>``, else
    the same folder names along the data search path."""
    marker = spec.layout["file"]
    names = spec.layout.get("folders", [])
    roots = [data] if data is not None else data_search_path()
    tried = []
    for root in roots:
        for candidate in [root, *(root / n for n in names)] if data is not None else [root / n for n in names]:
            tried.append(str(candidate))
            if (candidate / marker).is_file():
                return candidate
    raise DatasetError(
        f"dataset {spec.name}: {marker} not found in {', '.join(tried) or 'no folder'}. "
        "Pass --data FOLDER (the folder holding it) or set MEDBENCH_DATA_DIR"
    )


def read_table(spec: DatasetSpec, root: Path) -> CaseTable:
    return ADAPTERS[spec.layout["format"]](spec, root)


def _split(table: CaseTable, rows: np.ndarray) -> RawSplit:
    pick = lambda values: None if values is None else [values[i] for i in rows]  # noqa: E731
    return RawSplit(
        ids=[table.ids[i] for i in rows],
        labels=np.asarray(table.labels)[rows],
        paths=[table.paths[i] for i in rows],
        rows=pick(table.rows or None),
        groups=pick(table.groups),
        subsets=pick(table.subsets),
    )


def raw_for_freeze(spec: DatasetSpec, table: CaseTable) -> RawDataset:
    """Compute the split (seeded, stratified, grouped) — only ever at freeze time."""
    require_files(table)
    rows = assign_splits(table, spec.raw.get("split"))
    splits = {s: _split(table, rows[s]) for s in SPLITS}
    return RawDataset(name=spec.name, splits=splits, source_files=table.source_files(), notes=list(table.notes))


def raw_from_lock(spec: DatasetSpec, table: CaseTable, lock_splits: dict[str, list[str]]) -> RawDataset:
    """The frozen split, read from the lock's case ids (never recomputed)."""
    index = {case: i for i, case in enumerate(table.ids)}
    splits = {}
    for split in SPLITS:
        missing = [c for c in lock_splits[split] if c not in index]
        if missing:
            raise DatasetError(
                f"dataset {spec.name}: the lock's {split} case {missing[0]!r} is not in {table.root} "
                f"({len(missing)} missing); refusing to score"
            )
        splits[split] = _split(table, np.array([index[c] for c in lock_splits[split]], dtype=np.int64))
    locked = {c for s in SPLITS for c in lock_splits[s]}
    files = {table.relative(table.paths[index[c]]): table.paths[index[c]] for c in locked}
    files.update({table.relative(p): p for p in table.csv_files})
    return RawDataset(name=spec.name, splits=splits, source_files=files, notes=list(table.notes))


def files_on_disk(table: CaseTable, locked_names: list[str]) -> dict[str, Path]:
    """What verification compares with the lock: every locked name that exists, plus every image file
    in the layout's image folders (an unlisted one is an 'extra' file)."""
    found = {name: table.root / name for name in locked_names if (table.root / name).is_file()}
    for pattern in table.image_globs:
        for path in table.root.glob(pattern):
            name = table.relative(path)
            if name not in table.skipped:
                found.setdefault(name, path)
    return found
