"""The prepared cache: each frozen dataset decoded once into memory-mappable uint8 arrays.

Layout under ``$MEDBENCH_HOME/prepared/<dataset>/<lock hash>/r<resolution>/``:
``images.npy`` (``[N, R, R, 3]`` uint8, rows in lock order train, val, test), ``labels.npy`` and
``meta.json`` (row ranges per split). Every submission's ``/input/images.npy`` is this very file,
bind-mounted read-only, so decoding happens once and no cell copies images.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from harness.datasets.lock import SplitLock, load_lock, verify_content, verify_files
from harness.datasets.raw import SPLITS, RawDataset
from harness.datasets.source import locate_source, read_source
from harness.datasets.spec import DatasetSpec, load_spec
from harness.paths import medbench_home

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

    @property
    def n_cases(self) -> int:
        return self.offsets["test"][1]


def to_rgb_square(image: np.ndarray, size: int) -> np.ndarray:
    """Grayscale -> 3 channels (replicated), then aspect-preserving resize and centred zero pad."""
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=-1)
    elif image.shape[-1] == 1:
        image = np.repeat(image, 3, axis=-1)
    h, w = image.shape[:2]
    if (h, w) == (size, size):
        return image
    scale = size / max(h, w)
    nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
    resized = np.asarray(Image.fromarray(image).resize((nw, nh), Image.Resampling.BICUBIC))
    out = np.zeros((size, size, 3), dtype=np.uint8)
    top, left = (size - nh) // 2, (size - nw) // 2
    out[top : top + nh, left : left + nw] = resized
    return out


def _build(raw: RawDataset, folder: Path, resolution: int) -> dict[str, tuple[int, int]]:
    tmp = folder.with_name(folder.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    n = sum(len(raw.splits[s].ids) for s in SPLITS)
    images = np.lib.format.open_memmap(tmp / "images.npy", mode="w+", dtype=np.uint8, shape=(n, resolution, resolution, 3))
    offsets, row = {}, 0
    for split in SPLITS:
        src = raw.splits[split].images
        for i in range(len(src)):
            images[row + i] = to_rgb_square(src[i], resolution)
        offsets[split] = (row, row + len(src))
        row += len(src)
    images.flush()
    del images
    np.save(tmp / "labels.npy", raw.all_labels())
    meta = {"cache_version": CACHE_VERSION, "resolution": resolution, "offsets": offsets}
    (tmp / "meta.json").write_text(json.dumps(meta, indent=1))
    if folder.exists():
        shutil.rmtree(folder)
    tmp.rename(folder)
    return offsets


def prepare(spec: DatasetSpec, data: Path | None = None, resolution: int | None = None) -> PreparedDataset:
    """Verify the source against the lock, then return the prepared cache (building it once)."""
    resolution = resolution or spec.canonical_resolution
    lock = load_lock(spec)
    source = locate_source(spec, data)
    verify_files(lock, {source.name: source})
    folder = medbench_home() / "prepared" / spec.name / lock.lock_hash[:16] / f"r{resolution}"
    meta_path = folder / "meta.json"
    offsets = None
    if meta_path.exists():
        meta = json.loads(meta_path.read_text())
        if meta.get("cache_version") == CACHE_VERSION:
            offsets = {k: tuple(v) for k, v in meta["offsets"].items()}
    if offsets is None:
        raw = read_source(spec, source)
        verify_content(lock, raw)
        offsets = _build(raw, folder, resolution)
    return PreparedDataset(spec=spec, lock=lock, resolution=resolution, folder=folder, offsets=offsets, source=source)


def prepare_by_name(name: str, data: Path | None = None, resolution: int | None = None) -> PreparedDataset:
    return prepare(load_spec(name), data=data, resolution=resolution)
