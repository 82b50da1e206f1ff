"""Adapter for CBIS-DDSM as published on TCIA: ``mass_case_description_{train,test}_set.csv`` and
``calc_case_description_{train,test}_set.csv`` (one row per abnormality), DICOM images named by the
CSVs' file-path columns under the image folder (``CBIS-DDSM/`` by default).

A case is one abnormality and its ``cropped image file path`` (the ROI crop), or, with
``layout.image_column: image file path``, one full mammogram labelled malignant when any of its
abnormalities is. BENIGN_WITHOUT_CALLBACK counts as benign. The official train / test split is kept;
val is carved from train by patient.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from harness.datasets.spec import DatasetSpec
from harness.datasets.table import CaseTable, image_path, read_csv, where
from harness.errors import DatasetError

PATHOLOGY = {"BENIGN": "benign", "BENIGN_WITHOUT_CALLBACK": "benign", "MALIGNANT": "malignant"}
FILES = {
    ("mass", "train"): "mass_case_description_train_set.csv",
    ("mass", "test"): "mass_case_description_test_set.csv",
    ("calc", "train"): "calc_case_description_train_set.csv",
    ("calc", "test"): "calc_case_description_test_set.csv",
}
COLUMNS = ["patient_id", "left or right breast", "image view", "abnormality id", "abnormality type", "pathology"]


def read_cbis_ddsm(spec: DatasetSpec, root: Path) -> CaseTable:
    layout = spec.layout
    column = layout.get("image_column", "cropped image file path")
    image_root = root / layout.get("image_folder", "CBIS-DDSM")
    per_image = column == "image file path"
    mapping = spec.raw.get("label_policy", {}).get("pathology", PATHOLOGY)
    bad = sorted(set(mapping.values()) - set(spec.class_names))
    if bad:
        raise DatasetError(f"{spec.folder / 'dataset.yaml'}: label_policy.pathology maps to {bad}, not among the classes {list(spec.class_names)}")
    code = {value: spec.class_names.index(name) for value, name in mapping.items()}
    cases: dict[str, dict] = {}
    csvs = []
    for subset in layout.get("abnormality", ["mass", "calc"]):
        for split in ("train", "test"):
            csv = root / FILES[(subset, split)]
            frame = read_csv(csv, [*COLUMNS, column])
            csvs.append(csv)
            for i, row in enumerate(frame.to_dict("records")):
                pathology = row["pathology"].strip()
                if pathology not in code:
                    raise DatasetError(
                        f"{where(csv, i)}: field 'pathology' is {pathology!r}, outside {sorted(code)} "
                        f"(classes {list(spec.class_names)})"
                    )
                path = image_path(image_root, row[column], csv, i, column)
                patient = row["patient_id"].strip()
                kind = "Mass" if subset == "mass" else "Calc"
                base = f"{kind}-{'Training' if split == 'train' else 'Test'}_{patient}_{row['left or right breast'].strip()}_{row['image view'].strip()}"
                case = base if per_image else f"{base}_{row['abnormality id'].strip()}"
                if case in cases:
                    if not per_image:
                        raise DatasetError(f"{where(csv, i)}: abnormality {case!r} occurs twice")
                    cases[case]["label"] = max(cases[case]["label"], code[pathology])
                    continue
                cases[case] = {"label": code[pathology], "path": path, "patient": patient, "split": split, "subset": subset, "row": where(csv, i)}
    ids = list(cases)
    table = CaseTable(
        ids=ids,
        labels=np.array([cases[c]["label"] for c in ids], dtype=np.int64),
        paths=[cases[c]["path"] for c in ids],
        root=root,
        csv_files=csvs,
        image_globs=(),  # the image tree also holds full / crop / mask DICOMs a case does not use
        groups=[cases[c]["patient"] for c in ids],
        official_split=[cases[c]["split"] for c in ids],
        subsets=[cases[c]["subset"] for c in ids],
        rows=[cases[c]["row"] for c in ids],
    )
    table.notes.append(f"official train/test kept; val carved from train by patient_id; images: {column!r}; BENIGN_WITHOUT_CALLBACK -> benign")
    return table
