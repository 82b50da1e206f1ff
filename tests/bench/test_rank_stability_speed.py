"""Bootstrap rank stability at leaderboard scale: 7 models x 5 datasets x 5,000 test cases, 1,000
paired resamples. Timed end to end from test probabilities: the shared count matrix per dataset, every
model's AUROC on every resample (binary tasks, the batched Mann-Whitney path), rank-then-aggregate per
resample, rank distributions and Kendall's tau. Goal: under 2 s on this machine; reported as a ratio to
that goal, never asserted. Determinism for a seed is asserted."""

from __future__ import annotations

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from harness.scoring.bootstrap import BootstrapConfig, resample_values, resample_weights
from harness.scoring.metrics import METRICS
from harness.scoring.ranks import rank_stability

MODELS, DATASETS, CASES, RESAMPLES, GOAL_S = 7, 5, 5_000, 1_000, 2.0


@pytest.fixture(scope="module")
def predictions():
    rng = np.random.default_rng(0)
    data = []
    for _ in range(DATASETS):
        y = rng.integers(0, 2, CASES)
        models = []
        for m in range(MODELS):
            score = 1 / (1 + np.exp(-((2 * y - 1) * (0.3 + 0.05 * m) + rng.normal(0, 1, CASES))))
            models.append(np.stack([1 - score, score], 1).astype(np.float32))
        data.append((y, models))
    return data


def _stability(predictions):
    metric = METRICS["auroc"]
    points, resampled = [], []
    with threadpool_limits(limits=1):
        for d, (y, models) in enumerate(predictions):
            weights = resample_weights(CASES, BootstrapConfig(resamples=RESAMPLES, seed=d))
            resampled.append(np.stack([resample_values(metric, "binary", y, [p], weights) for p in models], axis=1))
            points.append(np.array([metric.point("binary", y, p) for p in models]))
        return rank_stability(points, resampled)


def test_bootstrap_rank_stability_speed(benchmark, predictions, report_ratio):
    result = benchmark.pedantic(_stability, args=(predictions,), rounds=3, iterations=1, warmup_rounds=1)
    again = _stability(predictions)
    np.testing.assert_array_equal(result.rank_distribution, again.rank_distribution)
    np.testing.assert_array_equal(result.kendall_tau, again.kendall_tau)
    assert result.rank_distribution.shape == (MODELS, MODELS) and len(result.kendall_tau) == RESAMPLES
    mean_s = benchmark.stats.stats.mean
    benchmark.extra_info.update(goal_seconds=GOAL_S, goal_over_measured=GOAL_S / mean_s, tau=result.tau_summary())
    report_ratio(
        f"bootstrap rank stability ({MODELS} models x {DATASETS} datasets x {CASES} cases, {RESAMPLES} resamples)",
        f"{mean_s:.2f} s, {GOAL_S / mean_s:.2f}x inside the {GOAL_S:.0f} s goal (>= 1 meets it)",
    )
