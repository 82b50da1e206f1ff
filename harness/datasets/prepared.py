"""The prepared cache: each frozen dataset decoded once into memory-mappable uint8 arrays.

Layout under ``$MEDBENCH_HOME/prepared/<dataset>/<lock hash>/r<resolution>/``:
``images.npy`` (``[N, R, R, 3]`` uint8, rows in lock order train, val, test), ``labels.npy``,
``groups.npy`` (patient / lesion id per row, where the data has one) and ``meta.json`` (row ranges per
split). Every submission's ``/input/images.npy`` is this very file, bind-mounted read-only, so decoding
happens once per (dataset, resolution) and no cell copies images.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from harness.datasets.decode import decode_many, to_rgb_square
from harness.datasets.lock import SplitLock, load_lock
from harness.datasets.raw import SPLITS, RawDataset
from harness.datasets.source import locate_source, verify_source
from harness.datasets.spec import DatasetSpec, load_spec
from harness.paths import medbench_home

__all__ = ["PreparedDataset", "prepare", "prepare_by_name", "to_rgb_square"]

CACHE_VERSION = 1


@dataclass(frozen=True)
class PreparedDataset:
    spec: DatasetSpec
    lock: SplitLock
    resolution: int
    folder: Path
    offsets: dict[str, tuple[int, int]]  # split -> [start, stop) rows
    source: Path

    @property
    def images_path(self) -> Path:
        return self.folder / "images.npy"

    def images(self, split: str | None = None) -> np.ndarray:
        arr = np.load(self.images_path, mmap_mode="r")
        return arr if split is None else arr[slice(*self.offsets[split])]

    def labels(self, split: str | None = None) -> np.ndarray:
        arr = np.load(self.folder / "labels.npy")
        return arr if split is None else arr[slice(*self.offsets[split])]

    def groups(self, split: str | None = None) -> np.ndarray | None:
        """Patient / lesion id per row (for grouped bootstrap), or None when the data has no key."""
        path = self.folder / "groups.npy"
        if not path.exists():
            return None
        arr = np.load(path)
        return arr if split is None else arr[slice(*self.offsets[split])]

    @property
    def n_cases(self) -> int:
        return self.offsets["test"][1]


def _build(raw: RawDataset, folder: Path, resolution: int) -> dict[str, tuple[int, int]]:
    """Decode into ``<folder>.partial`` and rename at the end: a failure leaves no partial cache."""
    tmp = folder.with_name(folder.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        n = sum(len(raw.splits[s].ids) for s in SPLITS)
        images = np.lib.format.open_memmap(tmp / "images.npy", mode="w+", dtype=np.uint8, shape=(n, resolution, resolution, 3))
        offsets, row = {}, 0
        for split in SPLITS:
            offsets[split] = (row, row + len(raw.splits[split].ids))
            row += len(raw.splits[split].ids)
        parts = [raw.splits[s] for s in SPLITS]
        if all(p.images is not None for p in parts):
            decoded = (to_rgb_square(p.images[i], resolution) for p in parts for i in range(len(p.ids)))
        else:  # one pool of worker processes for all splits, rows in lock order
            paths = [path for p in parts for path in p.paths]
            rows = [r for p in parts for r in (p.rows or [""] * len(p.paths))]
            decoded = decode_many(paths, rows, resolution, label=f"decoding {raw.name}")
        for i, image in enumerate(decoded):
            images[i] = image
        images.flush()
        del images
        np.save(tmp / "labels.npy", raw.all_labels())
        if raw.has_groups:
            np.save(tmp / "groups.npy", np.array([g for s in SPLITS for g in raw.splits[s].groups], dtype=str))
        meta = {"cache_version": CACHE_VERSION, "resolution": resolution, "offsets": offsets, "notes": raw.notes}
        (tmp / "meta.json").write_text(json.dumps(meta, indent=1))
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if folder.exists():
        shutil.rmtree(folder)
    tmp.rename(folder)
    return offsets


def prepare(spec: DatasetSpec, data: Path | None = None, resolution: int | None = None) -> PreparedDataset:
    """Verify the source against the lock, then return the prepared cache (building it once)."""
    resolution = resolution or spec.canonical_resolution
    lock = load_lock(spec)
    source = locate_source(spec, data)
    folder = medbench_home() / "prepared" / spec.name / lock.lock_hash[:16] / f"r{resolution}"
    meta_path = folder / "meta.json"
    offsets = None
    if meta_path.exists():
        meta = json.loads(meta_path.read_text())
        if meta.get("cache_version") == CACHE_VERSION:
            offsets = {k: tuple(v) for k, v in meta["offsets"].items()}
    raw = verify_source(spec, source, lock, content=offsets is None)
    if offsets is None:
        offsets = _build(raw, folder, resolution)
    return PreparedDataset(spec=spec, lock=lock, resolution=resolution, folder=folder, offsets=offsets, source=source)


def prepare_by_name(name: str, data: Path | None = None, resolution: int | None = None) -> PreparedDataset:
    return prepare(load_spec(name), data=data, resolution=resolution)
