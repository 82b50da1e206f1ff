"""A deterministic synthetic dataset in MedMNIST's ``.npz`` layout, used when no real data is reachable.

Images are 28x28 RGB 'fundus-like' discs whose number of bright lesions grows with the grade, so a
backbone has something learnable; every output built from it is labelled synthetic.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np

GENERATOR_VERSION = 1


def fake_fundus_image(rng: np.random.Generator, grade: int, size: int) -> np.ndarray:
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    c = (size - 1) / 2
    r = np.sqrt((yy - c) ** 2 + (xx - c) ** 2) / (size / 2)
    disc = np.clip(1.0 - r, 0, 1) ** 0.5
    base = np.stack([0.75 * disc, 0.35 * disc, 0.15 * disc], axis=-1)
    base += rng.normal(0, 0.03, base.shape)
    for _ in range(int(rng.poisson(1 + 3 * grade))):
        y, x = rng.uniform(size * 0.2, size * 0.8, 2)
        spot = np.exp(-((yy - y) ** 2 + (xx - x) ** 2) / (2 * rng.uniform(0.6, 1.4) ** 2))
        base += spot[..., None] * np.array([0.4, 0.4, 0.2]) * rng.uniform(0.5, 1.0)
    return (np.clip(base, 0, 1) * 255).astype(np.uint8)


def generate(path: Path, counts: dict[str, int], num_classes: int, size: int, seed: int) -> Path:
    """Write the file deterministically (fixed zip timestamps) so its sha256 is stable."""
    rng = np.random.default_rng(seed)
    arrays: dict[str, np.ndarray] = {}
    for split, n in counts.items():
        labels = rng.integers(0, num_classes, size=n)
        arrays[f"{split}_images"] = np.stack([fake_fundus_image(rng, int(g), size) for g in labels])
        arrays[f"{split}_labels"] = labels.reshape(-1, 1).astype(np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".partial")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED) as zf:
        for key in sorted(arrays):
            buf = io.BytesIO()
            np.lib.format.write_array(buf, arrays[key], allow_pickle=False)
            zf.writestr(zipfile.ZipInfo(f"{key}.npy", date_time=(1980, 1, 1, 0, 0, 0)), buf.getvalue())
    tmp.replace(path)
    return path
