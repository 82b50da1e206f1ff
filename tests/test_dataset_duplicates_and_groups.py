"""Near-duplicates across splits (perceptual hash) and the grouped bootstrap fed by the prepared
cache's group ids."""

from __future__ import annotations

import numpy as np
from PIL import Image

import layouts
from harness.cells import metric_block
from harness.datasets.duplicates import cross_split_duplicates
from harness.datasets.lock import freeze
from harness.datasets.prepared import prepare
from harness.datasets.source import read_source
from harness.scoring.bootstrap import BootstrapConfig, resample_indices, score_with_ci
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
    y = prepared.labels("test")
    probs = np.random.default_rng(0).dirichlet(np.ones(8), size=len(y)).astype(np.float32)
    config = BootstrapConfig(resamples=200)
    block = metric_block(prepared, probs, config)
    grouped = resample_indices(len(y), config, groups=groups)
    ungrouped = resample_indices(len(y), config)
    for metric in metrics_for(spec.task_type, spec.official_metric, spec.secondary_metrics):
        assert block[metric.name] == score_with_ci(metric, spec.task_type, y, probs, grouped, config.level)
    accuracy = next(m for m in metrics_for(spec.task_type, "accuracy"))
    assert block["accuracy"] != score_with_ci(accuracy, spec.task_type, y, probs, ungrouped, config.level)
