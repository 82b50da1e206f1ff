"""Adapter for APTOS 2019 Blindness Detection as published on Kaggle: ``train.csv`` (``id_code``,
``diagnosis`` 0-4) and ``train_images/<id_code>.png``. APTOS publishes no patient id, so its split
cannot be grouped (the dataset card says so); only ``train.csv`` carries labels."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from harness.datasets.spec import DatasetSpec
from harness.datasets.table import CaseTable, image_path, integer, read_csv, where

LABELS = "train.csv"
IMAGES = "train_images"


def read_aptos2019(spec: DatasetSpec, root: Path) -> CaseTable:
    csv = root / LABELS
    frame = read_csv(csv, ["id_code", "diagnosis"])
    grades = range(spec.num_classes)
    ids = frame["id_code"].str.strip().tolist()
    labels = np.array([integer(v, csv, i, "diagnosis", grades) for i, v in enumerate(frame["diagnosis"])], dtype=np.int64)
    paths = [image_path(root, f"{IMAGES}/{case}.png", csv, i, "id_code") for i, case in enumerate(ids)]
    table = CaseTable(ids=ids, labels=labels, paths=paths, root=root, csv_files=[csv], image_globs=(f"{IMAGES}/*.png",),
                      rows=[where(csv, i) for i in range(len(ids))])
    table.notes.append("APTOS 2019 has no patient id: split is stratified but NOT grouped (both eyes of a patient may fall in different splits)")
    return table
