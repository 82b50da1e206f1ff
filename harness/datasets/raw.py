"""``RawDataset``: what an adapter reads from a publisher's layout, before any split is frozen."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

SPLITS = ("train", "val", "test")


@dataclass
class RawSplit:
    ids: list[str]
    labels: np.ndarray  # [N] int64 class index, or [N, L] {0,1} for multilabel
    images: np.ndarray  # [N, H, W] or [N, H, W, C] uint8


@dataclass
class RawDataset:
    name: str
    splits: dict[str, RawSplit]
    source_files: dict[str, Path]  # file name in the lock -> path on disk

    def all_labels(self) -> np.ndarray:
        return np.concatenate([self.splits[s].labels for s in SPLITS])
