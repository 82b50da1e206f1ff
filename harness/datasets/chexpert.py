"""Adapter for CheXpert as published by Stanford: ``train.csv`` and ``valid.csv`` (Path, Sex, Age,
Frontal/Lateral, AP/PA, then 14 observations holding 1.0 / 0.0 / -1.0 / blank), images under
``train/`` and ``valid/`` named by the CSV's ``Path`` (which starts with the release folder name,
e.g. ``CheXpert-v1.0-small/train/patient00001/study1/view1_frontal.jpg``).

Label policy (``label_policy`` in dataset.yaml): uncertain (-1) -> 1 (U-Ones), -> 0 (U-Zeros), or the
mixed recipe (U-Ones for Atelectasis and Edema, U-Zeros for the rest), overridable per label; a blank
means not mentioned and becomes 0; ``frontal_only`` drops lateral views. The official ``valid.csv``
(radiologist consensus labels) is the test split; train / val are carved from ``train.csv`` by patient.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from harness.datasets.spec import DatasetSpec
from harness.datasets.table import CaseTable, image_path, read_csv, where
from harness.errors import DatasetError

OBSERVATIONS = (
    "No Finding", "Enlarged Cardiomediastinum", "Cardiomegaly", "Lung Opacity", "Lung Lesion", "Edema",
    "Consolidation", "Pneumonia", "Atelectasis", "Pneumothorax", "Pleural Effusion", "Pleural Other",
    "Fracture", "Support Devices",
)
COMPETITION = ("Atelectasis", "Cardiomegaly", "Consolidation", "Edema", "Pleural Effusion")
MIXED_ONES = ("Atelectasis", "Edema")
FILES = {"train": "train.csv", "test": "valid.csv"}  # official file -> split it becomes
PATIENT = re.compile(r"(?:^|/)(patient\d+)/")


def uncertainty_targets(spec: DatasetSpec) -> dict[str, int]:
    """What -1 becomes, per label, under the declared policy."""
    policy = spec.raw.get("label_policy", {})
    default = policy.get("uncertainty", "u-ones")
    targets = {}
    for name in spec.class_names:
        if default == "mixed":
            targets[name] = 1 if name in MIXED_ONES else 0
        else:
            targets[name] = 1 if default == "u-ones" else 0
    for name, rule in policy.get("uncertainty_per_label", {}).items():
        if name not in targets:
            raise DatasetError(f"{spec.folder / 'dataset.yaml'}: label_policy.uncertainty_per_label names {name!r}, not one of the classes")
        targets[name] = 1 if rule == "u-ones" else 0
    return targets


def _relative(value: str) -> str:
    parts = value.strip().split("/")
    return "/".join(parts[1:]) if parts and parts[0] not in ("train", "valid") else "/".join(parts)


def read_chexpert(spec: DatasetSpec, root: Path) -> CaseTable:
    unknown = [c for c in spec.class_names if c not in OBSERVATIONS]
    if unknown:
        raise DatasetError(f"{spec.folder / 'dataset.yaml'}: class(es) {unknown} are not CheXpert observations")
    policy = spec.raw.get("label_policy", {})
    frontal_only = bool(policy.get("frontal_only", False))
    targets = uncertainty_targets(spec)
    ids, labels, paths, groups, official, csvs, rows, skipped = [], [], [], [], [], [], [], set()
    for split, name in FILES.items():
        csv = root / name
        frame = read_csv(csv, ["Path", "Frontal/Lateral", *spec.class_names])
        csvs.append(csv)
        for i, row in enumerate(frame.itertuples(index=False)):
            values = dict(zip(frame.columns, row))
            rel = _relative(values["Path"])
            if frontal_only and values["Frontal/Lateral"].strip() != "Frontal":
                skipped.add(rel)
                continue
            match = PATIENT.search(rel)
            if match is None:
                raise DatasetError(f"{where(csv, i)}: field 'Path' is {values['Path']!r}; no patientNNNNN folder in it")
            vec = []
            for label in spec.class_names:
                cell = values[label].strip()
                if cell == "":
                    vec.append(0)
                elif cell in ("1", "1.0"):
                    vec.append(1)
                elif cell in ("0", "0.0"):
                    vec.append(0)
                elif cell in ("-1", "-1.0"):
                    vec.append(targets[label])
                else:
                    raise DatasetError(f"{where(csv, i)}: field {label!r} is {cell!r}, expected 1.0, 0.0, -1.0 or blank")
            paths.append(image_path(root, rel, csv, i, "Path"))
            ids.append(rel.rsplit(".", 1)[0])
            labels.append(vec)
            groups.append(match.group(1))
            official.append(split)
            rows.append(where(csv, i))
    table = CaseTable(
        ids=ids,
        labels=np.array(labels, dtype=np.int64).reshape(len(ids), spec.num_classes),
        paths=paths,
        root=root,
        csv_files=csvs,
        image_globs=("train/**/*.jpg", "valid/**/*.jpg"),
        groups=groups,
        official_split=official,
        skipped=skipped,
        rows=rows,
    )
    rules = ", ".join(f"{k}: -1->{v}" for k, v in uncertainty_targets(spec).items())
    table.notes.append(f"valid.csv is the test split; grouped by patient id from the path; uncertainty {rules}; blank->0"
                       + ("; frontal views only" if frontal_only else ""))
    return table
