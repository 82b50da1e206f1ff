"""Adapter for ISIC 2019 as published: ``ISIC_2019_Training_GroundTruth.csv`` (one-hot columns
MEL,NV,BCC,AK,BKL,DF,VASC,SCC,UNK), ``ISIC_2019_Training_Input/<image>.jpg`` and, when present,
``ISIC_2019_Training_Metadata.csv`` whose ``lesion_id`` groups images of one lesion.

UNK is all zero in the training set; a row marking UNK (or no class, or two) is refused.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from harness.datasets.spec import DatasetSpec
from harness.datasets.table import CaseTable, image_path, read_csv, where
from harness.errors import DatasetError

GROUND_TRUTH = "ISIC_2019_Training_GroundTruth.csv"
METADATA = "ISIC_2019_Training_Metadata.csv"
IMAGES = "ISIC_2019_Training_Input"


def read_isic2019(spec: DatasetSpec, root: Path) -> CaseTable:
    csv = root / GROUND_TRUTH
    classes = list(spec.class_names)
    frame = read_csv(csv, ["image", *classes, "UNK"])
    onehot = np.zeros((len(frame), len(classes) + 1), dtype=np.int64)
    for j, column in enumerate([*classes, "UNK"]):
        values = frame[column].str.strip()
        bad = ~values.isin(["0", "1", "0.0", "1.0"])
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            raise DatasetError(f"{where(csv, row)}: field {column!r} is {values.iloc[row]!r}, expected 0 or 1")
        onehot[:, j] = values.astype(float).astype(np.int64)
    for row in np.flatnonzero(onehot.sum(axis=1) != 1):
        raise DatasetError(f"{where(csv, int(row))}: image {frame['image'].iloc[row]!r} marks {int(onehot[row].sum())} classes, expected exactly one")
    for row in np.flatnonzero(onehot[:, -1] == 1):
        raise DatasetError(
            f"{where(csv, int(row))}: image {frame['image'].iloc[row]!r} is labelled 'UNK', outside the classes {classes} "
            f"of {spec.folder / 'dataset.yaml'}"
        )
    ids = frame["image"].str.strip().tolist()
    paths = [image_path(root, f"{IMAGES}/{case}.jpg", csv, i, "image") for i, case in enumerate(ids)]
    table = CaseTable(
        ids=ids,
        labels=onehot[:, :-1].argmax(axis=1),
        paths=paths,
        root=root,
        csv_files=[csv],
        image_globs=(f"{IMAGES}/*.jpg",),
        rows=[where(csv, i) for i in range(len(ids))],
    )
    meta_csv = root / METADATA
    if meta_csv.exists():
        meta = read_csv(meta_csv, ["image", "lesion_id"])
        lesion = dict(zip(meta["image"].str.strip(), meta["lesion_id"].str.strip()))
        missing = [case for case in ids if case not in lesion]
        if missing:
            raise DatasetError(f"{meta_csv}: no row for image {missing[0]!r} (listed in {csv}); {len(missing)} image(s) missing")
        # an image without a lesion_id is its own group
        table.groups = [lesion[case] or case for case in ids]
        table.csv_files.append(meta_csv)
        table.notes.append(f"grouped by lesion_id from {METADATA}")
    else:
        table.notes.append(f"{METADATA} absent: split is stratified but NOT grouped by lesion")
    return table
