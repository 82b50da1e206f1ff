"""CBIS-DDSM: the four case-description CSVs and DICOM files by their CSV paths; official train/test
kept, val carved from train by patient; BENIGN_WITHOUT_CALLBACK is benign; mass and calc subsets."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pydicom
import pytest

import layouts
from harness.datasets.decode import read_image
from harness.datasets.lock import freeze
from harness.datasets.prepared import prepare
from harness.datasets.source import read_source
from harness.errors import DatasetError


@pytest.fixture
def cbis_root(tmp_path):
    return layouts.cbis_ddsm(tmp_path / "CBIS-DDSM-download")


def frames(root, kinds=("mass", "calc")):
    out = {}
    for kind in kinds:
        for split in ("train", "test"):
            out[(kind, split)] = pd.read_csv(root / f"{kind}_case_description_{split}_set.csv", dtype=str, keep_default_na=False)
    return out


def test_official_split_kept_val_by_patient_and_pathology_mapped(dataset_copy, cbis_root):
    spec = dataset_copy("cbis-ddsm")
    raw = read_source(spec, cbis_root)
    lock = freeze(spec, raw)
    tables = frames(cbis_root)
    n_test = sum(len(f) for (k, s), f in tables.items() if s == "test")
    assert lock.split_sizes()["test"] == n_test
    assert lock.split_sizes()["train"] + lock.split_sizes()["val"] == sum(len(f) for (k, s), f in tables.items() if s == "train")
    assert all("-Test_" in case for case in lock.splits["test"]) and not any("-Test_" in c for c in lock.splits["val"])
    groups = {s: set(g) for s, g in lock.groups.items()}
    assert not (groups["train"] & groups["val"]) and lock.doc["group_overlap"] == {}
    # labels: MALIGNANT -> 1, BENIGN and BENIGN_WITHOUT_CALLBACK -> 0, row by row
    every = pd.concat([f for (k, s), f in tables.items()])
    assert "BENIGN_WITHOUT_CALLBACK" in set(every["pathology"])
    by_case = {}
    for (kind, split), f in tables.items():
        word = {"mass": "Mass", "calc": "Calc"}[kind] + ("-Training" if split == "train" else "-Test")
        for _, r in f.iterrows():
            by_case[f"{word}_{r['patient_id']}_{r['left or right breast']}_{r['image view']}_{r['abnormality id']}"] = int(r["pathology"] == "MALIGNANT")
    for split in ("train", "val", "test"):
        assert raw.splits[split].labels.tolist() == [by_case[c] for c in raw.splits[split].ids]


def test_dicom_decoded_through_pydicom_and_replicated(dataset_copy, cbis_root):
    spec = dataset_copy("cbis-ddsm")
    lock = freeze(spec, read_source(spec, cbis_root))
    prepared = prepare(spec, data=cbis_root)
    assert prepared.images().shape == (sum(lock.split_sizes().values()), 224, 224, 3)
    first = lock.splits["test"][0]
    tables = frames(cbis_root)
    row = next(r for f in tables.values() for _, r in f.iterrows() if first.endswith(f"{r['patient_id']}_{r['left or right breast']}_{r['image view']}_{r['abnormality id']}") and ("Test" in first))
    path = cbis_root / "CBIS-DDSM" / row["cropped image file path"]
    pixels = pydicom.dcmread(path).pixel_array
    decoded = read_image(path)
    assert decoded.dtype == np.uint8 and decoded.shape == pixels.shape
    assert decoded.min() == 0 and decoded.max() == 255
    assert np.corrcoef(decoded.ravel(), pixels.ravel())[0, 1] > 0.999  # a linear window of the 16-bit values
    img = prepared.images("test")[0]
    assert (img[..., 0] == img[..., 2]).all()
    # 30x26 crop -> 224 high, padded left and right, aspect preserved
    assert (img[:, :5] == 0).all() and img[:, 100:120].any()


@pytest.mark.parametrize("subset", ["mass", "calc"])
def test_mass_and_calc_subsets(dataset_copy, cbis_root, subset):
    spec = dataset_copy(f"cbis-ddsm-{subset}")
    lock = freeze(spec, read_source(spec, cbis_root))
    prefix = "Mass-" if subset == "mass" else "Calc-"
    cases = [c for s in lock.splits.values() for c in s]
    assert all(c.startswith(prefix) for c in cases)
    assert len(cases) == sum(len(f) for f in frames(cbis_root, (subset,)).values())
    assert not any(name.startswith(("mass_", "calc_")) and not name.startswith(subset) for name in lock.source_files)


def test_unknown_pathology_names_file_and_row(dataset_copy, cbis_root):
    csv = cbis_root / "calc_case_description_test_set.csv"
    f = pd.read_csv(csv, dtype=str, keep_default_na=False)
    f.loc[1, "pathology"] = "UNPROVEN"
    f.to_csv(csv, index=False)
    with pytest.raises(DatasetError, match=r"calc_case_description_test_set.csv, row 2 \(line 3\): field 'pathology' is 'UNPROVEN'"):
        read_source(dataset_copy("cbis-ddsm"), cbis_root)


def test_csv_path_without_its_dicom_names_the_row(dataset_copy, cbis_root):
    f = pd.read_csv(cbis_root / "mass_case_description_train_set.csv", dtype=str, keep_default_na=False)
    (cbis_root / "CBIS-DDSM" / f["cropped image file path"][3]).unlink()
    with pytest.raises(DatasetError, match=r"mass_case_description_train_set.csv, row 4 \(line 5\): names image 'CBIS-DDSM/Mass-Training"):
        read_source(dataset_copy("cbis-ddsm"), cbis_root)


def test_unreadable_dicom_fails_freeze_writing_nothing(dataset_copy, cbis_root):
    f = pd.read_csv(cbis_root / "calc_case_description_train_set.csv", dtype=str, keep_default_na=False)
    bad = cbis_root / "CBIS-DDSM" / f["cropped image file path"][0]
    bad.write_bytes(b"\0" * 64)
    spec = dataset_copy("cbis-ddsm")
    with pytest.raises(DatasetError) as err:
        freeze(spec, read_source(spec, cbis_root))
    assert f"{bad}: unreadable image (listed at" in str(err.value) and "calc_case_description_train_set.csv, row 1 (line 2)" in str(err.value)
    assert not spec.lock_path.exists()


def test_missing_column_is_named(dataset_copy, cbis_root):
    csv = cbis_root / "mass_case_description_test_set.csv"
    pd.read_csv(csv, dtype=str, keep_default_na=False).drop(columns=["patient_id"]).to_csv(csv, index=False)
    with pytest.raises(DatasetError, match=r"mass_case_description_test_set.csv: column\(s\) 'patient_id' missing"):
        read_source(dataset_copy("cbis-ddsm"), cbis_root)


def test_monochrome1_dicom_is_inverted_so_dense_tissue_stays_bright(tmp_path):
    pixels = np.array([[0, 1000], [2000, 4000]], dtype=np.uint16)
    mono2 = read_image(layouts.write_dicom(tmp_path / "a.dcm", pixels, "a"))
    mono1 = read_image(layouts.write_dicom(tmp_path / "b.dcm", pixels, "b", photometric="MONOCHROME1"))
    assert mono2.tolist() == [[0, 64], [128, 255]]
    assert (mono1 == 255 - mono2).all()
