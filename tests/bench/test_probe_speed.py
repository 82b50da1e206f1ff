"""Torch L-BFGS probe vs scikit-learn's LogisticRegression on 20,000 x 1,024 float32 embeddings, 8 classes.

Two comparisons; in each, only the solver differs:

- one fit: C = 0.01 on 16,000 rows, then predict 4,000 (``LogisticRegression(C).fit`` vs
  ``TorchLogisticProbe.fit``), both from zero;
- the linear protocol: ``LinearProtocol(solver=...).score_embeddings`` on train 14,000 / val 2,000 /
  test 4,000, the harness's whole job: standardize, sweep the 7-value C grid (ascending, warm-started) scoring
  val AUROC, refit at the chosen C on train + val, predict test. Same data, grid, selection and refit.

Both sides get the same thread budget, ``THREADS`` (env ``MEDBENCH_BENCH_THREADS``, default 1, as the harness
scores): BLAS / OpenMP through threadpoolctl, torch through the probe's ``threads``. The two sides run
alternately, round after round, so both see the same load on a shared machine; each side's time is its best
round. Goal: speed ratio >= 5x at an AUROC difference <= 0.005. The ratios are reported (benchmark extra_info
and the run summary), never asserted; the agreement is.
"""

from __future__ import annotations

import os
import time
import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from threadpoolctl import threadpool_limits

import harness.protocols.linear as linear
import harness.protocols.torch_probe as torch_probe
from harness.protocols.linear import LinearProtocol
from harness.protocols.torch_probe import TorchLogisticProbe, default_device

N, D, K, C = 20_000, 1_024, 8, 0.01
THREADS = int(os.environ.get("MEDBENCH_BENCH_THREADS", "1"))


@pytest.fixture(scope="module")
def embeddings():
    rng = np.random.default_rng(0)
    y = rng.integers(0, K, N)
    x = (rng.normal(0, 0.04, (K, D))[y] + rng.normal(size=(N, D))).astype(np.float32)  # overlapping classes: AUROC ~0.8
    return x, y


def _auroc(y, p):
    return roc_auc_score(y, p, multi_class="ovr")


def _race(benchmark, reference, candidate, rounds):
    """Alternate the two sides for ``rounds`` timed rounds (after one warm-up each); the benchmark records the
    candidate. Returns (reference result, candidate result, reference best s, candidate best s)."""
    ref_times, out = [], {}

    def run_reference():
        start = time.perf_counter()
        out["reference"] = reference()
        ref_times.append(time.perf_counter() - start)

    with threadpool_limits(limits=THREADS), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        candidate_result = benchmark.pedantic(candidate, setup=run_reference, rounds=rounds, warmup_rounds=1, iterations=1)
    return out["reference"], candidate_result, min(ref_times[1:]), benchmark.stats.stats.min


def _report(benchmark, report_ratio, name, ref_s, torch_s, auroc_ref, auroc_torch, device):
    ratio, diff = ref_s / torch_s, abs(auroc_torch - auroc_ref)
    benchmark.extra_info.update(
        device=device, threads=THREADS, sklearn_best_s=ref_s, torch_best_s=torch_s, speed_ratio_sklearn_over_torch=ratio,
        auroc_sklearn=auroc_ref, auroc_torch=auroc_torch, auroc_abs_diff=diff,
    )
    report_ratio(
        name,
        f"scikit-learn {ref_s * 1000:.0f} ms / torch {torch_s * 1000:.0f} ms = {ratio:.2f}x on {device}, "
        f"{THREADS} thread(s) each (goal >= 5x); AUROC diff {diff:.5f} (goal <= 0.005)",
    )
    return diff


def test_one_fit(benchmark, embeddings, report_ratio):
    x, y = embeddings
    xtr, ytr, xte, yte = x[:16_000], y[:16_000], x[16_000:], y[16_000:]
    device = default_device()

    def sklearn_fit():
        return LogisticRegression(C=C, max_iter=300).fit(xtr, ytr).predict_proba(xte)

    def torch_fit():
        return TorchLogisticProbe(K, device=device, max_iter=300, threads=THREADS).fit(xtr, ytr, C).predict_proba(xte)

    ref, probs, ref_s, torch_s = _race(benchmark, sklearn_fit, torch_fit, rounds=5)
    diff = _report(benchmark, report_ratio, "one fit, C=0.01, 16000x1024, 8 classes", ref_s, torch_s, _auroc(yte, ref), _auroc(yte, probs), device)
    assert diff <= 0.005


def test_linear_protocol(benchmark, embeddings, report_ratio, monkeypatch):
    x, y = embeddings
    splits = {"train": x[:14_000], "val": x[14_000:16_000], "test": x[16_000:]}
    labels = {"train": y[:14_000], "val": y[14_000:16_000], "n_classes": K}
    # the harness scores under threadpool_limits(1) and torch probes on 1 thread; here both follow THREADS
    monkeypatch.setattr(linear, "threadpool_limits", lambda limits: threadpool_limits(limits=THREADS))

    class Probe(TorchLogisticProbe):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **{"threads": THREADS, **kwargs})

    monkeypatch.setattr(torch_probe, "TorchLogisticProbe", Probe)

    def run(solver):
        return lambda: LinearProtocol(solver=solver).score_embeddings("multiclass", splits, labels, "auroc")

    ref, out, ref_s, torch_s = _race(benchmark, run("sklearn"), run("torch"), rounds=3)
    yte = y[16_000:]
    diff = _report(
        benchmark, report_ratio, "linear protocol: 7-C sweep on val + refit, 20000x1024, 8 classes", ref_s, torch_s,
        _auroc(yte, ref.test_probs), _auroc(yte, out.test_probs), default_device(),
    )
    assert out.choices["C"] == ref.choices["C"]
    assert diff <= 0.005
