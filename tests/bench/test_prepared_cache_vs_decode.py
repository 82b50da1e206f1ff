"""Decode once, evaluate many: reading a split from the prepared cache (memory-mapped uint8 .npy)
against decoding its source images every time, on the real ISIC 2019 sample (train split, 189 JPEGs,
224 px). Goal: cache >= 20x faster. Reported through ``report_ratio``, never asserted.

Decoding is measured twice: serially in-process, and with the harness's own parallel decoder
(worker processes, as the cache builder uses). The ratio is taken against the faster of the two.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from harness.datasets.decode import decode_many, read_image, to_rgb_square
from harness.datasets.lock import freeze
from harness.datasets.prepared import prepare
from harness.datasets.source import read_source, verify_source
from harness.datasets.spec import load_spec

REPO = Path(__file__).resolve().parents[2]
SPLIT = "train"
SECONDS: dict[str, float] = {}


@pytest.fixture(scope="module")
def isic(tmp_path_factory, isic_sample):
    folder = tmp_path_factory.mktemp("bench-datasets") / "isic2019"
    shutil.copytree(REPO / "datasets" / "isic2019", folder)
    spec = load_spec(folder)
    lock = freeze(spec, read_source(spec, isic_sample))
    prepared = prepare(spec, data=isic_sample)
    raw = verify_source(spec, isic_sample, lock)
    return prepared, raw.splits[SPLIT]


def test_decode_every_time_serial(benchmark, isic):
    prepared, split = isic
    size = prepared.resolution

    def decode():
        return np.stack([to_rgb_square(read_image(p), size) for p in split.paths])

    images = benchmark.pedantic(decode, rounds=5, iterations=1, warmup_rounds=1)
    np.testing.assert_array_equal(images, prepared.images(SPLIT))
    SECONDS["serial"] = benchmark.stats.stats.mean


def test_decode_every_time_parallel(benchmark, isic):
    prepared, split = isic

    def decode():
        return np.stack(list(decode_many(split.paths, split.rows, prepared.resolution)))

    images = benchmark.pedantic(decode, rounds=5, iterations=1, warmup_rounds=1)
    np.testing.assert_array_equal(images, prepared.images(SPLIT))
    SECONDS["parallel"] = benchmark.stats.stats.mean


def test_read_split_from_prepared_cache(benchmark, isic, report_ratio):
    prepared, split = isic

    def read():
        return np.array(prepared.images(SPLIT))  # open the memmap and copy the rows out

    images = benchmark.pedantic(read, rounds=20, iterations=1, warmup_rounds=1)
    assert images.shape == (len(split.ids), prepared.resolution, prepared.resolution, 3)
    cache = benchmark.stats.stats.mean
    decode = min(SECONDS.values()) if SECONDS else None
    ratio = decode / cache if decode else None
    benchmark.extra_info.update(speedup=ratio, goal=20, cache_mean_s=cache, decode_mean_s=dict(SECONDS), images=len(split.ids))
    report_ratio(
        "prepared cache vs decoding (ISIC 2019 sample)",
        f"{'n/a' if ratio is None else f'{ratio:.0f}x'} (goal >= 20x; {len(split.ids)} images at {prepared.resolution} px); "
        f"cache {cache * 1e3:.1f} ms, decode serial {SECONDS.get('serial', float('nan')) * 1e3:.0f} ms, "
        f"parallel {SECONDS.get('parallel', float('nan')) * 1e3:.0f} ms",
    )
