"""L-BFGS for L2-regularized logistic regression on features held in torch: the solver behind the torch probe.

The objective is scikit-learn's (``LogisticRegression(penalty='l2', solver='lbfgs')``): mean log-loss plus
``lam / 2 * ||W||^2`` with ``lam = 1 / (C n)`` and an unpenalized intercept; a softmax over K outputs, or one
sigmoid output for two classes. It stops where scikit-learn's lbfgs stops: when the largest absolute entry of
the gradient is at most ``tol``.

Each iteration makes two passes over the features: one product for the logits of the search direction and
one for the gradient at the new point. The logits are carried from iterate to iterate, so the line search (a
safeguarded Newton iteration on the step length, exact to 5%) works on the K x n logits alone and costs no
further pass; gradients are analytic (no autograd graph).

A solver keeps its state (weights, logits, data gradient, curvature pairs) between ``solve`` calls: a new
``lam`` (the next C of a grid) starts from the previous solution, its gradient updated without a pass over the
data and its curvature pairs updated exactly for the changed penalty.
"""

from __future__ import annotations

import math

import torch

LINE_SEARCH_TOL = 0.05  # stop the line search when |phi'(a)| <= this * |phi'(0)|
LINE_SEARCH_STEPS = 20


class _Softmax:
    def __init__(self, y: torch.Tensor, k: int, dtype: torch.dtype):
        self.target = torch.nn.functional.one_hot(y, k).T.to(dtype)  # [k, n]

    @staticmethod
    def probs(t: torch.Tensor) -> torch.Tensor:
        return torch.softmax(t, dim=0)

    @staticmethod
    def curvature(p: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """Sum over cases of z^T (diag p - p p^T) z: the second derivative of the summed loss along z."""
        pz = p * z
        return (pz * z).sum() - (pz.sum(0) ** 2).sum()

    def loss(self, t: torch.Tensor) -> torch.Tensor:
        return (torch.logsumexp(t, dim=0) - (self.target * t).sum(0)).mean()


class _Sigmoid:
    def __init__(self, y: torch.Tensor, dtype: torch.dtype):
        self.target = y.to(dtype)[None, :]  # [1, n]

    @staticmethod
    def probs(t: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(t)

    @staticmethod
    def curvature(p: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return (p * (1 - p) * z * z).sum()

    def loss(self, t: torch.Tensor) -> torch.Tensor:
        return (torch.nn.functional.softplus(t) - self.target * t).mean()


class LogisticLbfgs:
    """Minimizes the objective on features ``x`` [n, d] for labels ``y`` (codes 0..K-1); ``outputs`` is 1
    (sigmoid, two classes) or K (softmax). ``w0``, ``b0``: a starting point (else zeros)."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor, outputs: int, w0: torch.Tensor | None = None, b0: torch.Tensor | None = None, history: int = 10):
        self.x, self.n, self.d, self.history = x, x.shape[0], x.shape[1], history
        self.link = _Sigmoid(y, x.dtype) if outputs == 1 else _Softmax(y, outputs, x.dtype)
        zeros = dict(dtype=x.dtype, device=x.device)
        self.w = torch.zeros(outputs, self.d, **zeros) if w0 is None else w0.to(x).clone()
        self.b = torch.zeros(outputs, **zeros) if b0 is None else b0.to(x).clone()
        self.pairs: list[tuple[torch.Tensor, torch.Tensor]] = []  # (step, gradient change), each [k, d + 1]
        self.lam: float | None = None
        self.n_iter = 0
        self._set_point(self._logits(self.w, self.b) if w0 is not None else torch.zeros(outputs, self.n, **zeros) + self.b[:, None])

    def _logits(self, w: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """``w x^T + b`` as [k, n]: one row per output, so the softmax runs over contiguous rows."""
        return torch.addmm(b[:, None], w, self.x.T)

    def _set_point(self, t: torch.Tensor, p: torch.Tensor | None = None) -> None:
        """Logits ``t`` of the current weights (and their probabilities ``p``); the data gradient follows."""
        self.t, self.p = t, self.link.probs(t) if p is None else p
        r = (self.p - self.link.target) / self.n
        self.g_data = torch.cat([r @ self.x, r.sum(1, keepdim=True)], dim=1)

    def _gradient(self) -> torch.Tensor:
        g = self.g_data.clone()
        g[:, : self.d] += self.lam * self.w
        return g

    def loss(self) -> float:
        return float(self.link.loss(self.t) + 0.5 * self.lam * (self.w * self.w).sum())

    def _direction(self, g: torch.Tensor) -> torch.Tensor:
        """The two-loop recursion: -H g, H the L-BFGS inverse-Hessian estimate from the stored pairs."""
        q = -g
        alphas = []
        for s, y in reversed(self.pairs):
            a = (s * q).sum() / (y * s).sum()
            alphas.append(a)
            q = q - a * y
        if self.pairs:
            s, y = self.pairs[-1]
            q = q * ((s * y).sum() / (y * y).sum())
        for (s, y), a in zip(self.pairs, reversed(alphas)):
            q = q + (a - (y * q).sum() / (y * s).sum()) * s
        return q

    def _line_search(self, z: torch.Tensor, q: torch.Tensor, slope0: float) -> tuple[float, torch.Tensor, torch.Tensor]:
        """Step length along q (logits direction z) by safeguarded Newton on phi(a) = objective(point + a q)."""
        qw = q[:, : self.d]
        wq, qq = float((self.w * qw).sum()), float((qw * qw).sum())
        target_z = float((self.link.target * z).sum())
        a, lo, hi, slope, p, t = 0.0, 0.0, math.inf, slope0, self.p, self.t
        for _ in range(LINE_SEARCH_STEPS):
            curvature = float(self.link.curvature(p, z)) / self.n + self.lam * qq
            step = a - slope / curvature if curvature > 0 else math.inf
            if not lo < step < hi:  # outside the bracket: bisect it (or double while it is open)
                step = (lo + hi) / 2 if hi < math.inf else 2 * max(a, 1.0)
            a = step
            t = self.t + a * z
            p = self.link.probs(t)
            slope = (float((p * z).sum()) - target_z) / self.n + self.lam * (wq + a * qq)
            if abs(slope) <= LINE_SEARCH_TOL * abs(slope0):
                break
            lo, hi = (a, hi) if slope < 0 else (lo, a)
        return a, t, p

    def solve(self, lam: float, tol: float = 1e-4, max_iter: int = 300) -> "LogisticLbfgs":
        """Iterate from the current point until max |gradient| <= tol or ``max_iter`` iterations."""
        if self.lam is not None and lam != self.lam:  # the penalty's curvature changed by (lam - old) I
            for s, y in self.pairs:
                y[:, : self.d] += (lam - self.lam) * s[:, : self.d]
        self.lam = lam
        g = self._gradient()
        self.n_iter = 0
        while float(g.abs().max()) > tol and self.n_iter < max_iter:
            q = self._direction(g)
            slope0 = float((q * g).sum())
            if not slope0 < 0:  # not a descent direction (rounding): forget the curvature pairs
                self.pairs.clear()
                q, slope0 = -g, -float((g * g).sum())
            z = self._logits(q[:, : self.d], q[:, self.d])
            a, t, p = self._line_search(z, q, slope0)
            self.w, self.b = self.w + a * q[:, : self.d], self.b + a * q[:, self.d]
            self._set_point(t, p)
            g_new = self._gradient()
            step, change = a * q, g_new - g
            if float((step * change).sum()) > 0:  # the curvature condition (always, up to rounding: convex)
                self.pairs.append((step, change))
                del self.pairs[: -self.history]
            g = g_new
            self.n_iter += 1
        return self
