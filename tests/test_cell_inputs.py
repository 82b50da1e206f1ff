"""A cell's /input: what goes in, and that test labels never do."""

from __future__ import annotations

import json

import numpy as np
import pytest

from harness.runtime.inputs import embed_input, finetune_input, task_document

DATASET = {"name": "t", "task_type": "ordinal", "class_names": ["0", "1", "2"], "modality": "m", "original_channels": 3}


def test_embed_input_mounts_the_prepared_cache_read_only(tmp_path):
    cache = tmp_path / "images.npy"
    np.save(cache, np.zeros((5, 8, 8, 3), np.uint8))
    task = task_document("embed", DATASET, "v", 56, {"images.npy": [5, 8, 8, 3]})
    mounts = embed_input(tmp_path / "in", cache, task)
    assert mounts == {"/input/images.npy": cache}
    assert sorted(p.name for p in (tmp_path / "in").iterdir()) == ["images.npy", "task.json"]
    assert json.loads((tmp_path / "in" / "task.json").read_text())["input_size"] == 56


def test_finetune_input_has_no_test_labels(tmp_path):
    rng = np.random.default_rng(0)
    arrays = {
        "train_images": rng.integers(0, 255, (6, 8, 8, 3), dtype=np.uint8), "train_labels": np.arange(6) % 3,
        "val_images": rng.integers(0, 255, (3, 8, 8, 3), dtype=np.uint8), "val_labels": np.arange(3),
        "test_images": rng.integers(0, 255, (4, 8, 8, 3), dtype=np.uint8),
    }
    task = task_document("finetune", DATASET, "v", None, {f"{k}.npy": list(v.shape) for k, v in arrays.items()})
    finetune_input(tmp_path / "in", arrays, task)
    names = sorted(p.name for p in (tmp_path / "in").iterdir())
    assert names == ["task.json", "test_images.npy", "train_images.npy", "train_labels.npy", "val_images.npy", "val_labels.npy"]
    with pytest.raises(ValueError, match="finetune input takes exactly"):
        finetune_input(tmp_path / "in2", {**arrays, "test_labels": np.arange(4)}, task)


def test_task_json_carries_the_datasets_official_metric():
    from harness.datasets.spec import load_spec
    from harness.runtime.inputs import task_document

    spec = load_spec("retinamnist")
    doc = task_document("finetune", spec.task_block(), "v", None, {})
    assert doc["dataset"]["official_metric"] == spec.official_metric == "auroc"
    bad = dict(spec.task_block(), official_metric="dice")
    with pytest.raises(Exception, match="official_metric"):
        task_document("finetune", bad, "v", None, {})
