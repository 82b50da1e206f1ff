"""The torch L-BFGS probe against scikit-learn's LogisticRegression (the reference), on the same data."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from harness.protocols.linear import LinearProtocol
from harness.protocols.torch_probe import TorchLogisticProbe

import torch  # noqa: E402  (the harness's 'models' extra, installed by scripts/setup.sh)


def _data(rng, n, d, k, sep):
    y = rng.integers(0, k, n)
    x = rng.normal(0, sep, (k, d))[y] + rng.normal(size=(n, d))
    return x, y  # float64: both solvers then converge to the same optimum well within the tolerances


@pytest.mark.parametrize("k,c", [(2, 0.05), (2, 10.0), (5, 0.01), (5, 1.0)])
def test_probe_matches_sklearn_probabilities_and_auroc(k, c):
    rng = np.random.default_rng(k)
    x, y = _data(rng, 1500, 32, k, 0.3)
    ref = LogisticRegression(C=c, max_iter=1000, tol=1e-8).fit(x[:1000], y[:1000])
    probe = TorchLogisticProbe(k, device="cpu", max_iter=1000, tol=1e-7, dtype="float64").fit(x[:1000], y[:1000], c)
    p_ref, p_probe = ref.predict_proba(x[1000:]), probe.predict_proba(x[1000:])
    np.testing.assert_allclose(p_probe, p_ref, atol=2e-4)  # both stop at a tolerance; a wrong objective (e.g. C off by 2x) is far outside
    auc = lambda p: roc_auc_score(y[1000:], p[:, 1]) if k == 2 else roc_auc_score(y[1000:], p, multi_class="ovr")
    assert abs(auc(p_probe) - auc(p_ref)) < 1e-4


def test_probe_restores_torchs_thread_setting():
    before = torch.get_num_threads()
    rng = np.random.default_rng(0)
    x, y = _data(rng, 200, 8, 3, 1.0)
    TorchLogisticProbe(3, device="cpu", threads=1).fit(x, y, 1.0)
    assert torch.get_num_threads() == before


def test_linear_protocol_with_the_torch_solver_agrees_with_the_reference():
    rng = np.random.default_rng(7)
    x, y = _data(rng, 1200, 24, 4, 0.25)
    splits = {"train": x[:700], "val": x[700:900], "test": x[900:]}
    labels = {"train": y[:700], "val": y[700:900], "n_classes": 4}
    grid = (1e-3, 1e-1, 10.0)
    ref = LinearProtocol(c_grid=grid).score_embeddings("multiclass", splits, labels, "auroc")
    fast = LinearProtocol(c_grid=grid, solver="torch").score_embeddings("multiclass", splits, labels, "auroc")
    assert fast.choices["C"] == ref.choices["C"] and fast.choices["solver"] == "torch"
    auc = lambda p: roc_auc_score(y[900:], p, multi_class="ovr")
    assert abs(auc(fast.test_probs) - auc(ref.test_probs)) < 0.005
    assert "solver" not in LinearProtocol().config() and LinearProtocol(solver="torch").config()["solver"] == "torch"
    with pytest.raises(ValueError, match="unknown linear-probe solver 'svm'"):
        LinearProtocol(solver="svm")
