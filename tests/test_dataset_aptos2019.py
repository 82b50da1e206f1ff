"""APTOS 2019: train.csv + train_images/*.png as Kaggle ships them; ordinal grades; no grouping key."""

from __future__ import annotations

import numpy as np
import pytest

import layouts
from harness.datasets.info import describe
from harness.datasets.lock import freeze
from harness.datasets.prepared import prepare
from harness.datasets.source import read_source
from harness.errors import DatasetError


def test_freezes_stratified_by_grade_and_says_it_is_ungrouped(dataset_copy, tmp_path, monkeypatch):
    root = layouts.aptos2019(tmp_path / "aptos2019-blindness-detection")
    spec = dataset_copy("aptos2019")
    raw = read_source(spec, root)
    lock = freeze(spec, raw)
    assert lock.split_sizes() == {"train": 72, "val": 8, "test": 20}
    for split in ("train", "test"):
        assert set(raw.splits[split].labels.tolist()) == {0, 1, 2, 3, 4}
    assert np.bincount(raw.splits["test"].labels, minlength=5).tolist() == [4, 4, 4, 4, 4]
    assert lock.groups is None and "NOT grouped" in lock.doc["notes"][0]
    assert "test.csv" not in lock.source_files and "train.csv" in lock.source_files  # only train.csv has labels
    monkeypatch.setenv("MEDBENCH_DATASETS", str(spec.folder.parent))
    assert "no patient id" in describe("aptos2019")
    prepared = prepare(spec, data=root)
    assert prepared.images().shape == (100, 224, 224, 3)
    assert prepared.labels("test").tolist() == raw.splits["test"].labels.tolist()


def test_grade_outside_0_to_4_names_file_and_row(dataset_copy, tmp_path):
    root = layouts.aptos2019(tmp_path / "aptos")
    csv = root / "train.csv"
    lines = csv.read_text().splitlines()
    code = lines[12].split(",")[0]
    lines[12] = f"{code},5"
    csv.write_text("\n".join(lines) + "\n")
    with pytest.raises(DatasetError, match=r"train.csv, row 12 \(line 13\): field 'diagnosis' is 5, outside the classes 0..4"):
        read_source(dataset_copy("aptos2019"), root)


def test_missing_diagnosis_column_is_named(dataset_copy, tmp_path):
    root = layouts.aptos2019(tmp_path / "aptos")
    (root / "train.csv").write_text("id_code\nabc\n")
    with pytest.raises(DatasetError, match=r"train.csv: column\(s\) 'diagnosis' missing"):
        read_source(dataset_copy("aptos2019"), root)
