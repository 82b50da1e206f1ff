"""ISIC 2019: the real shared sample (official layout, no metadata CSV) and small fixtures in the same
layout with ISIC_2019_Training_Metadata.csv (lesion grouping), bad inputs, verification."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import yaml

import layouts
from harness.datasets.lock import freeze, load_lock
from harness.datasets.prepared import prepare
from harness.datasets.source import read_source, verify_source
from harness.datasets.spec import load_spec
from harness.errors import DatasetError


def test_real_sample_freezes_stratified_but_ungrouped(dataset_copy, isic_sample):
    spec = dataset_copy("isic2019")
    raw = read_source(spec, isic_sample)
    lock = freeze(spec, raw)
    sizes = lock.split_sizes()
    assert sum(sizes.values()) == 264 and sizes["test"] == 53  # 20% test, then 10% of the rest as val
    assert lock.groups is None and any("NOT grouped" in n for n in lock.doc["notes"])
    for split in ("train", "val", "test"):
        counts = np.bincount(raw.splits[split].labels, minlength=8)
        assert counts[0] > 0 and counts[1] > 0 and counts[2:].sum() == 0  # MEL and NV in every split
        assert counts[1] / counts.sum() == pytest.approx(198 / 264, abs=0.06)
    assert len(lock.source_files) == 265  # the CSV and every image
    again = freeze(spec, read_source(spec, isic_sample), overwrite=True)
    assert again.lock_hash == lock.lock_hash  # seeded: the same split every time


def test_real_sample_prepares_once_in_lock_order(dataset_copy, isic_sample):
    spec = dataset_copy("isic2019")
    lock = freeze(spec, read_source(spec, isic_sample))
    prepared = prepare(spec, data=isic_sample)
    images = prepared.images()
    assert isinstance(images, np.memmap) and images.shape == (264, 224, 224, 3) and images.dtype == np.uint8
    assert prepared.groups("test") is None
    # row 0 of test is the lock's first test id, decoded from its own JPEG
    from harness.datasets.decode import read_image, to_rgb_square

    first = isic_sample / "ISIC_2019_Training_Input" / f"{lock.splits['test'][0]}.jpg"
    np.testing.assert_array_equal(prepared.images("test")[0], to_rgb_square(read_image(first), 224))
    gt = {r.split(",")[0]: r.split(",")[1:] for r in (isic_sample / "ISIC_2019_Training_GroundTruth.csv").read_text().splitlines()[1:]}
    expected = [[float(v) for v in gt[c]][:8].index(1.0) for c in lock.splits["val"]]
    assert prepared.labels("val").tolist() == expected
    mtime = prepared.images_path.stat().st_mtime_ns
    assert prepare(spec, data=isic_sample).images_path.stat().st_mtime_ns == mtime  # built once, reused


def test_split_is_read_from_the_lock_never_recomputed(dataset_copy, isic_sample):
    spec = dataset_copy("isic2019")
    lock = freeze(spec, read_source(spec, isic_sample))
    doc = yaml.safe_load((spec.folder / "dataset.yaml").read_text())
    doc["split"]["seed"] = 12345  # a different seed would give a different split if it were recomputed
    (spec.folder / "dataset.yaml").write_text(yaml.safe_dump(doc))
    changed = load_spec(spec.folder)
    assert read_source(changed, isic_sample).splits["test"].ids != lock.splits["test"]
    raw = verify_source(changed, isic_sample, load_lock(changed))
    assert raw.splits["test"].ids == lock.splits["test"]


def test_lesions_never_span_two_splits(dataset_copy, tmp_path):
    root = layouts.isic2019(tmp_path / "ISIC_2019", n=90)
    spec = dataset_copy("isic2019")
    lock = freeze(spec, read_source(spec, root))
    groups = lock.groups
    assert groups is not None and lock.doc["group_overlap"] == {}
    seen = {s: set(groups[s]) for s in groups}
    assert not (seen["train"] & seen["val"]) and not (seen["train"] & seen["test"]) and not (seen["val"] & seen["test"])
    # images without a lesion_id are their own group
    assert "ISIC_0000016" in {g for s in groups.values() for g in s}
    assert len(lock.source_files) == 92  # two CSVs and 90 images
    prepared = prepare(spec, data=root)
    assert prepared.groups("test").tolist() == groups["test"]


def test_verify_names_every_changed_missing_and_extra_file(dataset_copy, tmp_path):
    root = layouts.isic2019(tmp_path / "ISIC_2019")
    spec = dataset_copy("isic2019")
    lock = freeze(spec, read_source(spec, root))
    images = root / "ISIC_2019_Training_Input"
    changed = images / f"{lock.splits['test'][0]}.jpg"
    changed.write_bytes(changed.read_bytes() + b"\0")
    gone = images / f"{lock.splits['train'][0]}.jpg"
    gone.unlink()
    extra = images / "ISIC_9999999.jpg"
    shutil.copy(changed, extra)
    with pytest.raises(DatasetError) as err:
        prepare(spec, data=root)
    message = str(err.value)
    assert "refusing to score" in message
    assert f"{changed}: changed" in message
    assert f"ISIC_2019_Training_Input/{gone.name}: missing" in message
    assert f"{extra}: extra file not in the lock" in message


def test_missing_column_is_named(dataset_copy, tmp_path):
    root = layouts.isic2019(tmp_path / "ISIC_2019")
    csv = root / "ISIC_2019_Training_GroundTruth.csv"
    lines = csv.read_text().splitlines()
    csv.write_text("\n".join(",".join(line.split(",")[:-1]) for line in lines) + "\n")  # drop UNK
    spec = dataset_copy("isic2019")
    with pytest.raises(DatasetError, match=r"ISIC_2019_Training_GroundTruth.csv: column\(s\) 'UNK' missing"):
        read_source(spec, root)
    assert not spec.lock_path.exists()


def test_absent_image_names_csv_row(dataset_copy, tmp_path):
    root = layouts.isic2019(tmp_path / "ISIC_2019")
    (root / "ISIC_2019_Training_Input" / "ISIC_0000004.jpg").unlink()
    spec = dataset_copy("isic2019")
    with pytest.raises(DatasetError) as err:
        read_source(spec, root)
    assert "ISIC_2019_Training_GroundTruth.csv, row 5 (line 6)" in str(err.value)
    assert "ISIC_0000004.jpg does not exist" in str(err.value)


def test_unk_label_is_outside_the_classes(dataset_copy, tmp_path):
    root = layouts.isic2019(tmp_path / "ISIC_2019")
    csv = root / "ISIC_2019_Training_GroundTruth.csv"
    lines = csv.read_text().splitlines()
    lines[3] = "ISIC_0000002,0.0,0.0,0.0,0.0,0.0,0.0,0.0,0.0,1.0"
    csv.write_text("\n".join(lines) + "\n")
    with pytest.raises(DatasetError, match=r"row 3 \(line 4\): image 'ISIC_0000002' is labelled 'UNK', outside the classes"):
        read_source(dataset_copy("isic2019"), root)


def test_unreadable_image_fails_freeze_and_writes_nothing(dataset_copy, tmp_path):
    root = layouts.isic2019(tmp_path / "ISIC_2019")
    bad = root / "ISIC_2019_Training_Input" / "ISIC_0000007.jpg"
    bad.write_bytes(b"this is not a JPEG")
    spec = dataset_copy("isic2019")
    with pytest.raises(DatasetError) as err:
        freeze(spec, read_source(spec, root))
    assert f"{bad}: unreadable image (listed at" in str(err.value) and "row 8 (line 9)" in str(err.value)
    assert not spec.lock_path.exists() and not list(spec.folder.glob("*.partial"))


def test_image_changed_after_freeze_is_refused_before_decoding(dataset_copy, tmp_path):
    root = layouts.isic2019(tmp_path / "ISIC_2019", seed=3)
    spec = dataset_copy("isic2019")
    lock = freeze(spec, read_source(spec, root))
    bad = root / "ISIC_2019_Training_Input" / f"{lock.splits['val'][1]}.jpg"
    bad.write_bytes(bad.read_bytes()[:200])  # truncated
    with pytest.raises(DatasetError, match=f"{bad}: changed"):
        prepare(spec, data=root)


def test_a_decode_failure_while_building_leaves_no_partial_cache(dataset_copy, tmp_path):
    from harness.datasets.folder import raw_for_freeze, read_table
    from harness.datasets.prepared import _build

    root = layouts.isic2019(tmp_path / "ISIC_2019")
    spec = dataset_copy("isic2019")
    raw = raw_for_freeze(spec, read_table(spec, root))
    case = raw.splits["test"].ids[0]
    (root / "ISIC_2019_Training_Input" / f"{case}.jpg").write_bytes(b"garbage")
    folder = tmp_path / "cache" / "r32"
    with pytest.raises(DatasetError, match=rf"{case}.jpg: unreadable image \(listed at .*GroundTruth.csv, row \d+"):
        _build(raw, folder, 32)
    assert not folder.exists() and not folder.with_name("r32.partial").exists()


def test_truncated_image_fails_freeze_naming_its_row(dataset_copy, tmp_path):
    root = layouts.isic2019(tmp_path / "ISIC_2019")
    bad = root / "ISIC_2019_Training_Input" / "ISIC_0000009.jpg"
    data = bad.read_bytes()
    bad.write_bytes(data[: len(data) // 2])  # a valid header, half the scan data
    spec = dataset_copy("isic2019")
    with pytest.raises(DatasetError) as err:
        freeze(spec, read_source(spec, root))
    assert f"{bad}: unreadable image (listed at" in str(err.value) and "row 10 (line 11)" in str(err.value)
    assert "truncated" in str(err.value) and not spec.lock_path.exists()
