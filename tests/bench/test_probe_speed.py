"""Torch L-BFGS probe vs scikit-learn's LogisticRegression on 20,000 x 1,024 embeddings, 8 classes.

Both fit the same objective at the same C on the same 16,000 training rows, under the same thread
budget (one BLAS / torch thread on CPU, as the harness scores; the torch probe uses the GPU when there
is one), and predict the same 4,000 test rows. Goal: speed ratio >= 5x at an AUROC difference <= 0.005.
The ratio is reported (benchmark extra_info and the run summary), never asserted; the AUROC agreement is.
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from threadpoolctl import threadpool_limits

from harness.protocols.torch_probe import TorchLogisticProbe, default_device


N, D, K, C = 20_000, 1_024, 8, 0.01
RESULTS: dict[str, float] = {}


@pytest.fixture(scope="module")
def embeddings():
    rng = np.random.default_rng(0)
    y = rng.integers(0, K, N)
    x = (rng.normal(0, 0.04, (K, D))[y] + rng.normal(size=(N, D))).astype(np.float32)  # overlapping classes: AUROC ~0.8
    return x[:16_000], y[:16_000], x[16_000:], y[16_000:]


def _auroc(y, p):
    return roc_auc_score(y, p, multi_class="ovr")


def test_sklearn_probe(benchmark, embeddings):
    xtr, ytr, xte, yte = embeddings

    def fit():
        with threadpool_limits(limits=1):
            return LogisticRegression(C=C, max_iter=300).fit(xtr, ytr).predict_proba(xte)

    probs = benchmark.pedantic(fit, rounds=2, iterations=1, warmup_rounds=0)
    RESULTS["sklearn_s"], RESULTS["sklearn_auroc"] = benchmark.stats.stats.mean, _auroc(yte, probs)


def test_torch_probe(benchmark, embeddings, report_ratio):
    xtr, ytr, xte, yte = embeddings
    device = default_device()

    def fit():
        with threadpool_limits(limits=1):
            return TorchLogisticProbe(K, device=device, max_iter=300, threads=1).fit(xtr, ytr, C).predict_proba(xte)

    probs = benchmark.pedantic(fit, rounds=2, iterations=1, warmup_rounds=1)
    auroc = _auroc(yte, probs)
    if "sklearn_auroc" not in RESULTS:  # run alone: measure the reference once for the comparison
        with threadpool_limits(limits=1):
            RESULTS["sklearn_auroc"] = _auroc(yte, LogisticRegression(C=C, max_iter=300).fit(xtr, ytr).predict_proba(xte))
    diff = abs(auroc - RESULTS["sklearn_auroc"])
    benchmark.extra_info.update(device=device, auroc_torch=auroc, auroc_sklearn=RESULTS["sklearn_auroc"], auroc_abs_diff=diff)
    if "sklearn_s" in RESULTS:
        ratio = RESULTS["sklearn_s"] / benchmark.stats.stats.mean
        benchmark.extra_info["speed_ratio_sklearn_over_torch"] = ratio
        report_ratio(
            "torch probe vs scikit-learn (20000x1024, 8 classes)",
            f"speed ratio scikit-learn time / torch time = {ratio:.2f}x on {device} (goal >= 5x), AUROC diff {diff:.5f} (goal <= 0.005)",
        )
    assert diff <= 0.005
