"""The torch L-BFGS probe against scikit-learn's LogisticRegression (the reference), on the same data."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from harness.protocols.linear import LinearProtocol, _Heads
from harness.protocols.logistic_lbfgs import LogisticLbfgs
from harness.protocols.torch_probe import TorchLogisticProbe, fast_fp32_is_float32_grade, fp32_matmul_precision

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


@pytest.mark.parametrize("k", [2, 4])
def test_a_c_path_reaches_each_cs_own_optimum(k):
    # one probe along ascending C (kept weights, logits and curvature pairs) vs a fresh probe per C
    rng = np.random.default_rng(10 + k)
    x, y = _data(rng, 800, 16, k, 0.4)
    path = TorchLogisticProbe(k, device="cpu", tol=1e-8, dtype="float64")
    for c in (1e-3, 1e-1, 10.0):
        path.fit(x, y, c)
        fresh = TorchLogisticProbe(k, device="cpu", tol=1e-8, dtype="float64").fit(x, y, c)
        np.testing.assert_allclose(path.predict_proba(x), fresh.predict_proba(x), atol=1e-6)
        assert path._solver.loss() == pytest.approx(fresh._solver.loss(), abs=1e-10)
    assert path.fit(x, y, 10.0).n_iter == 0  # already there: no pass over the data


def test_solver_gradient_is_the_objectives_and_it_stops_at_tol():
    rng = np.random.default_rng(3)
    x, y = _data(rng, 300, 6, 3, 0.5)
    xt, yt = torch.tensor(x), torch.tensor(y)
    lam = 1.0 / (0.5 * 300)
    solver = LogisticLbfgs(xt, yt, 3).solve(lam, tol=1e-3)
    w, b = solver.w.clone().requires_grad_(True), solver.b.clone().requires_grad_(True)
    loss = torch.nn.functional.cross_entropy(xt @ w.T + b, yt) + lam / 2 * (w * w).sum()
    loss.backward()
    autograd = torch.cat([w.grad, b.grad[:, None]], dim=1).detach()
    np.testing.assert_allclose(solver._gradient().numpy(), autograd.numpy(), atol=1e-12)
    assert float(autograd.abs().max()) <= 1e-3 and solver.loss() == pytest.approx(loss.detach().item())


def test_fast_float32_products_agree_with_strict_float32():
    rng = np.random.default_rng(5)
    x, y = _data(rng, 3000, 256, 6, 0.1)
    x = x.astype(np.float32)
    strict = TorchLogisticProbe(6, device="cpu", fast_fp32=False).fit(x, y, 0.1)
    fast = TorchLogisticProbe(6, device="cpu", fast_fp32=True).fit(x, y, 0.1)
    np.testing.assert_allclose(fast.predict_proba(x), strict.predict_proba(x), atol=1e-3)  # both stop at tol 1e-4
    assert isinstance(fast_fp32_is_float32_grade(256), bool)


def test_probe_restores_onednns_float32_precision():
    backend = torch.backends.mkldnn.matmul
    with fp32_matmul_precision("tf32"):
        before = backend.fp32_precision
        rng = np.random.default_rng(0)
        x, y = _data(rng, 200, 8, 3, 1.0)
        TorchLogisticProbe(3, device="cpu", fast_fp32=True).fit(x.astype(np.float32), y, 1.0)
        assert backend.fp32_precision == before


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
    heads = _Heads("multiclass", 4, 0, 300, "torch")
    heads.fit_predict(splits["train"], labels["train"], splits["val"], 0.1)
    refit = heads.started_at(0.1).models[-1].probe  # the refit starts from the chosen C's solution
    assert refit.weight is heads.models[-1].solutions[0.1][1]
    assert _Heads("multiclass", 4, 0, 300, "sklearn").started_at(0.1).models == {}
    with pytest.raises(ValueError, match="unknown linear-probe solver 'svm'"):
        LinearProtocol(solver="svm")
