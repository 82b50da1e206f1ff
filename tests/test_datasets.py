"""MedMNIST split locks, verification and the prepared cache, on the real RetinaMNIST file."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from harness.datasets.lock import freeze, load_lock, sha256_file, verify_content, verify_files
from harness.datasets.medmnist import read_medmnist_npz
from harness.datasets.prepared import prepare, to_rgb_square
from harness.datasets.source import locate_source, read_source
from harness.datasets.spec import load_spec
from harness.errors import DatasetError

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def spec_copy(tmp_path):
    """The retinamnist dataset folder copied so tests can refreeze without touching the repo."""
    folder = tmp_path / "retinamnist"
    shutil.copytree(REPO / "datasets" / "retinamnist", folder)
    return load_spec(folder)


def test_committed_lock_matches_real_file(retinamnist_npz):
    spec = load_spec("retinamnist")
    lock = load_lock(spec)
    assert lock.split_sizes() == {"train": 1080, "val": 120, "test": 400}
    verify_files(lock, {retinamnist_npz.name: retinamnist_npz})
    verify_content(lock, read_medmnist_npz(spec, retinamnist_npz))


def test_freeze_is_deterministic(spec_copy, retinamnist_npz):
    raw = read_medmnist_npz(spec_copy, retinamnist_npz)
    first = freeze(spec_copy, raw, overwrite=True)
    second = freeze(spec_copy, raw, overwrite=True)
    assert first.lock_hash == second.lock_hash == load_lock(load_spec("retinamnist")).lock_hash


def test_freeze_refuses_to_overwrite(spec_copy, retinamnist_npz):
    with pytest.raises(DatasetError, match="already frozen"):
        freeze(spec_copy, read_medmnist_npz(spec_copy, retinamnist_npz))


def test_modified_file_is_refused_naming_it(spec_copy, retinamnist_npz, tmp_path):
    changed = tmp_path / "data" / "retinamnist.npz"
    changed.parent.mkdir()
    data = bytearray(retinamnist_npz.read_bytes())
    data[len(data) // 2] ^= 0xFF
    changed.write_bytes(bytes(data))
    with pytest.raises(DatasetError) as err:
        prepare(spec_copy, data=changed.parent)
    assert str(changed) in str(err.value) and "changed" in str(err.value) and "refusing to score" in str(err.value)


def test_missing_and_extra_files_are_named(spec_copy, tmp_path):
    lock = load_lock(spec_copy)
    extra = tmp_path / "extra.csv"
    extra.write_text("x")
    with pytest.raises(DatasetError) as err:
        verify_files(lock, {"extra.csv": extra})
    assert "retinamnist.npz: missing" in str(err.value) and "extra file not in the lock" in str(err.value)


def test_hand_edited_lock_is_detected(spec_copy):
    doc = json.loads(spec_copy.lock_path.read_text())
    doc["splits"]["test"] = doc["splits"]["test"][:-1]
    spec_copy.lock_path.write_text(json.dumps(doc))
    with pytest.raises(DatasetError, match="does not match the lock's content"):
        load_lock(spec_copy)


def test_prepared_cache_is_memory_mapped_uint8_in_lock_order(retinamnist_npz):
    prepared = prepare(load_spec("retinamnist"), data=retinamnist_npz)
    images = prepared.images()
    assert isinstance(images, np.memmap) and images.dtype == np.uint8 and images.shape == (1600, 28, 28, 3)
    with np.load(retinamnist_npz) as raw:
        np.testing.assert_array_equal(prepared.images("test"), raw["test_images"])
        np.testing.assert_array_equal(prepared.labels("val"), raw["val_labels"][:, 0])
    again = prepare(load_spec("retinamnist"), data=retinamnist_npz)
    assert again.folder == prepared.folder  # built once, reused


def test_label_outside_classes_names_file_and_row(spec_copy, tmp_path, retinamnist_npz):
    with np.load(retinamnist_npz) as raw:
        arrays = {k: raw[k] for k in raw.files}
    arrays["val_labels"] = arrays["val_labels"].copy()
    arrays["val_labels"][7, 0] = 9
    bad = tmp_path / "retinamnist.npz"
    np.savez(bad, **arrays)
    with pytest.raises(DatasetError) as err:
        read_medmnist_npz(spec_copy, bad)
    assert str(bad) in str(err.value) and "'val_labels' row 7" in str(err.value)


def test_missing_key_is_named(spec_copy, tmp_path):
    bad = tmp_path / "retinamnist.npz"
    np.savez(bad, train_images=np.zeros((2, 4, 4, 3), np.uint8))
    with pytest.raises(DatasetError, match="key 'train_labels' is missing"):
        read_medmnist_npz(spec_copy, bad)


def test_synthetic_dataset_is_deterministic_and_matches_its_lock():
    spec = load_spec("synthetic-fundus")
    path = locate_source(spec)
    lock = load_lock(spec)
    assert lock.source_files == {path.name: sha256_file(path)}
    verify_content(lock, read_source(spec, path))


def test_grayscale_is_replicated_and_padded_preserving_aspect():
    gray = np.full((10, 20), 200, np.uint8)
    out = to_rgb_square(gray, 16)
    assert out.shape == (16, 16, 3)
    assert (out[0] == 0).all() and (out[8, :, 0] == out[8, :, 1]).all()
    assert out[8, 8, 0] > 150
