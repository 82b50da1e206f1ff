"""A full-batch L-BFGS logistic-regression head in torch (on the GPU when there is one).

It minimizes the objective scikit-learn's ``LogisticRegression(penalty='l2', solver='lbfgs')`` minimizes,
``mean cross-entropy + ||W||^2 / (2 C n)`` with an unpenalized intercept: one sigmoid for two classes,
a softmax over all classes otherwise. scikit-learn stays the reference; the tests check that the two
agree. Threads are explicit: on CPU the probe runs on ``threads`` torch threads (the harness uses 1, like
its scikit-learn path) and restores torch's setting afterwards.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import numpy as np


def _torch():
    try:
        import torch
    except ImportError as exc:  # torch is the 'models' extra of the harness
        raise ImportError("the torch linear probe needs torch: pip install 'medbench[models]'") from exc
    return torch


@contextmanager
def torch_threads(n: int | None) -> Iterator[None]:
    torch = _torch()
    if n is None:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def default_device() -> str:
    return "cuda" if _torch().cuda.is_available() else "cpu"


class TorchLogisticProbe:
    """``fit(x, y, C)`` then ``predict_proba(x)``; keeps its weights between fits (warm start along a C grid)."""

    def __init__(self, n_classes: int, device: str | None = None, max_iter: int = 300, tol: float = 1e-4, threads: int | None = 1, dtype: str = "float32"):
        self.n_classes, self.max_iter, self.tol, self.threads = n_classes, max_iter, tol, threads
        self.device = device or default_device()
        self.dtype = getattr(_torch(), dtype)
        self.weight = self.bias = None
        self.n_iter = 0

    def _outputs(self) -> int:
        return 1 if self.n_classes == 2 else self.n_classes

    def fit(self, x: np.ndarray, y: np.ndarray, c: float) -> "TorchLogisticProbe":
        torch = _torch()
        with torch_threads(self.threads if self.device == "cpu" else None):
            xt = torch.as_tensor(np.ascontiguousarray(x), dtype=self.dtype, device=self.device)
            yt = torch.as_tensor(np.asarray(y, dtype=np.int64), device=self.device)
            n, d = xt.shape
            if self.weight is None or self.weight.shape != (self._outputs(), d):
                self.weight = torch.zeros(self._outputs(), d, dtype=self.dtype, device=self.device)
                self.bias = torch.zeros(self._outputs(), dtype=self.dtype, device=self.device)
            w = self.weight.clone().requires_grad_(True)
            b = self.bias.clone().requires_grad_(True)
            reg = 1.0 / (2.0 * c * n)
            binary = self.n_classes == 2
            target = yt.to(self.dtype) if binary else yt
            opt = torch.optim.LBFGS(
                [w, b], lr=1.0, max_iter=self.max_iter, history_size=10, line_search_fn="strong_wolfe",
                tolerance_grad=self.tol, tolerance_change=1e-10,
            )
            evals = 0

            def closure():
                nonlocal evals
                evals += 1
                opt.zero_grad()
                logits = torch.addmm(b, xt, w.T)
                if binary:
                    loss = torch.nn.functional.binary_cross_entropy_with_logits(logits[:, 0], target)
                else:
                    loss = torch.nn.functional.cross_entropy(logits, target)
                loss = loss + reg * (w * w).sum()
                loss.backward()
                return loss

            opt.step(closure)
            self.n_iter = opt.state[opt._params[0]].get("n_iter", evals)
            self.weight, self.bias = w.detach(), b.detach()
        return self

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        torch = _torch()
        with torch_threads(self.threads if self.device == "cpu" else None), torch.no_grad():
            xt = torch.as_tensor(np.ascontiguousarray(x), dtype=self.dtype, device=self.device)
            logits = torch.addmm(self.bias, xt, self.weight.T)
            if self.n_classes == 2:
                p1 = torch.sigmoid(logits[:, 0])
                probs = torch.stack([1 - p1, p1], dim=1)
            else:
                probs = torch.softmax(logits, dim=1)
            return probs.float().cpu().numpy()
