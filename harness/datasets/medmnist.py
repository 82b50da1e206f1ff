"""Adapter for MedMNIST v2 ``.npz`` files: ``{train,val,test}_{images,labels}`` as published."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from harness.datasets.raw import SPLITS, RawDataset, RawSplit
from harness.datasets.spec import DatasetSpec
from harness.errors import DatasetError


def read_medmnist_npz(spec: DatasetSpec, path: Path) -> RawDataset:
    try:
        archive = np.load(path, allow_pickle=False)
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise DatasetError(f"{path}: not a readable MedMNIST .npz file ({exc})") from None
    splits: dict[str, RawSplit] = {}
    with archive:
        keys = set(archive.files)
        for split in SPLITS:
            for part in ("images", "labels"):
                if f"{split}_{part}" not in keys:
                    raise DatasetError(
                        f"{path}: key '{split}_{part}' is missing; a MedMNIST file holds "
                        f"{', '.join(f'{s}_{p}' for s in SPLITS for p in ('images', 'labels'))}"
                    )
            images = archive[f"{split}_images"]
            labels = archive[f"{split}_labels"]
            if images.dtype != np.uint8 or images.ndim not in (3, 4):
                raise DatasetError(
                    f"{path}: key '{split}_images' is {images.dtype} {images.shape}, expected uint8 [N,H,W] or [N,H,W,C]"
                )
            if len(labels) != len(images):
                raise DatasetError(f"{path}: '{split}_labels' has {len(labels)} rows but '{split}_images' has {len(images)}")
            labels = _labels(spec, labels, path, split)
            ids = [f"{split}-{i:06d}" for i in range(len(images))]
            splits[split] = RawSplit(ids=ids, labels=labels, images=images)
    return RawDataset(name=spec.name, splits=splits, source_files={path.name: path})


def _labels(spec: DatasetSpec, labels: np.ndarray, path: Path, split: str) -> np.ndarray:
    labels = np.asarray(labels).astype(np.int64)
    if spec.task_type == "multilabel":
        if labels.ndim != 2 or labels.shape[1] != spec.num_classes:
            raise DatasetError(f"{path}: '{split}_labels' shape {labels.shape}, expected [N, {spec.num_classes}]")
        bad = ~np.isin(labels, (0, 1))
    else:
        labels = labels.reshape(len(labels), -1)
        if labels.shape[1] != 1:
            raise DatasetError(f"{path}: '{split}_labels' shape {labels.shape}, expected [N, 1] for {spec.task_type}")
        labels = labels[:, 0]
        bad = (labels < 0) | (labels >= spec.num_classes)
    if bad.any():
        row = int(np.flatnonzero(bad.reshape(len(labels), -1).any(axis=1))[0])
        raise DatasetError(
            f"{path}: '{split}_labels' row {row} holds {labels[row].tolist()}, outside the {spec.num_classes} classes "
            f"of {spec.folder / 'dataset.yaml'}"
        )
    return labels
