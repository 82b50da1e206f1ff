"""Near-duplicates across splits (perceptual hash) and the grouped bootstrap fed by the prepared
cache's group ids."""

from __future__ import annotations

import numpy as np
from PIL import Image

import layouts
from harness.cells import bootstrap_unit, metric_block
from harness.datasets.duplicates import cross_split_duplicates
from harness.datasets.lock import freeze
from harness.datasets.prepared import prepare
from harness.datasets.source import read_source
from harness.scoring.bootstrap import BootstrapConfig, resample_weights, score_with_ci
from harness.scoring.metrics import metrics_for


def test_an_image_reused_across_splits_is_reported(dataset_copy, tmp_path):
    root = layouts.isic2019(tmp_path / "ISIC_2019", n=90)
    spec = dataset_copy("isic2019")
    lock = freeze(spec, read_source(spec, root))
    clean = prepare(spec, data=root)
    assert cross_split_duplicates(clean.images(), clean.offsets, lock.splits) == []

    source, target = lock.splits["train"][0], lock.splits["test"][2]
    folder = root / "ISIC_2019_Training_Input"
    Image.open(folder / f"{source}.jpg").save(folder / f"{target}.jpg", quality=70)  # re-encoded copy
    lock = freeze(spec, read_source(spec, root), overwrite=True)
    reused = prepare(spec, data=root)
    pairs = cross_split_duplicates(reused.images(), reused.offsets, lock.splits)
    assert [(p.split_a, p.id_a, p.split_b, p.id_b) for p in pairs] == [("train", source, "test", target)]
    assert pairs[0].distance <= 4


def test_bootstrap_resamples_whole_lesions_when_the_data_knows_them(dataset_copy, tmp_path):
    root = layouts.isic2019(tmp_path / "ISIC_2019", n=150)
    spec = dataset_copy("isic2019")
    freeze(spec, read_source(spec, root))
    prepared = prepare(spec, data=root)
    groups = prepared.groups("test")
    assert groups is not None and len(set(groups)) < len(groups)  # some lesions have several images
    assert bootstrap_unit(prepared) == "group"
    y = prepared.labels("test")
    probs = np.random.default_rng(0).dirichlet(np.ones(8), size=len(y)).astype(np.float32)
    config = BootstrapConfig(resamples=200)
    block = metric_block(prepared, [probs], config)
    grouped = resample_weights(len(y), config, groups=groups)
    ungrouped = resample_weights(len(y), config)
    for metric in metrics_for(spec.task_type, spec.official_metric, spec.secondary_metrics):
        assert block[metric.name] == score_with_ci(metric, spec.task_type, y, [probs], grouped, config.level)
    accuracy = next(m for m in metrics_for(spec.task_type, "accuracy"))
    assert block["accuracy"] != score_with_ci(accuracy, spec.task_type, y, [probs], ungrouped, config.level)


def test_cli_info_and_duplicates(dataset_copy, tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = layouts.isic2019(tmp_path / "ISIC_2019", n=60)
    spec = dataset_copy("isic2019")
    env = {**os.environ, "COLUMNS": "200", "MEDBENCH_DATASETS": str(spec.folder.parent)}
    repo = Path(__file__).resolve().parent.parent

    def medbench(*args):
        return subprocess.run([sys.executable, "-m", "harness.cli", *args], capture_output=True, text=True, env=env, cwd=repo, timeout=300)

    proc = medbench("datasets", "info", "isic2019")
    assert proc.returncode == 0 and "lock: " in proc.stdout and "missing; freeze the split first" in proc.stdout, proc.stderr
    assert medbench("datasets", "freeze", "isic2019", "--data", str(root)).returncode == 0
    proc = medbench("datasets", "info", "isic2019")
    assert "in more than one split: 0" in proc.stdout and "grouped by lesion_id" in proc.stdout, proc.stdout
    proc = medbench("datasets", "duplicates", "isic2019", "--data", str(root))
    assert proc.returncode == 0 and "isic2019: 0 near-duplicate pair(s) across splits" in proc.stdout, proc.stdout + proc.stderr
