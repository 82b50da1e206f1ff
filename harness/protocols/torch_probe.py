"""A full-batch L-BFGS logistic-regression head in torch (on the GPU when there is one).

It minimizes the objective scikit-learn's ``LogisticRegression(penalty='l2', solver='lbfgs')`` minimizes,
``mean cross-entropy + ||W||^2 / (2 C n)`` with an unpenalized intercept (one sigmoid for two classes, a
softmax over all classes otherwise), to the same stopping rule (largest gradient entry <= ``tol``), with the
solver of ``protocols/logistic_lbfgs.py``. scikit-learn stays the reference; the tests check that the two agree.

Between fits the probe keeps its solution: a fit on the same array (the same object, unmodified) and labels
continues from it without a pass over the data (a C path); a fit on other features starts from its weights.

CPU. Threads are explicit: the probe runs on ``threads`` torch threads (the harness uses 1, like its
scikit-learn path) and restores torch's setting afterwards. Where the CPU has native bfloat16, float32 products
go through oneDNN with its implicit-bfloat16 math allowed (``torch.backends.mkldnn.matmul.fp32_precision =
"bf16"``, PyTorch >= 2.9), about twice as fast for these tall, thin products; the probe checks once per feature
count that this mode's products agree with strict float32 to ``FLOAT32_GRADE`` (relative) and otherwise keeps
strict float32.
"""

from __future__ import annotations

import weakref
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
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


def _weak(x):
    try:
        return weakref.ref(x)
    except TypeError:  # not an ndarray: no reuse
        return None


FLOAT32_GRADE = 1e-5  # largest relative error accepted from the fast float32 products (strict: ~1e-7 to 1e-6)


@lru_cache(maxsize=1)
def cpu_has_native_bf16() -> bool:
    """AVX512-BF16 or AMX on this CPU (Linux /proc/cpuinfo)."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return " avx512_bf16" in flags or " amx_bf16" in flags


@contextmanager
def fp32_matmul_precision(mode: str | None) -> Iterator[None]:
    """oneDNN's internal precision for float32 products on CPU (None: leave it as it is)."""
    backend = getattr(_torch().backends.mkldnn, "matmul", None)
    if mode is None or backend is None:
        yield
        return
    before = backend.fp32_precision
    backend.fp32_precision = mode
    try:
        yield
    finally:
        backend.fp32_precision = before


@lru_cache(maxsize=None)
def fast_fp32_is_float32_grade(d: int) -> bool:
    """Whether the implicit-bfloat16 mode keeps products of the probe's shapes (here [8, d] x [d, 4096] and
    [8, 4096] x [4096, d]) within FLOAT32_GRADE of strict float32: oneDNN may split each float32 into
    bfloat16 parts (float32-grade) or round to one (about 4e-3, not accepted)."""
    torch = _torch()
    gen = torch.Generator().manual_seed(0)
    x, w, r = (torch.rand(*shape, generator=gen) + 0.5 for shape in ((4096, d), (8, d), (8, 4096)))

    def products():
        return w @ x.T, r @ x

    with fp32_matmul_precision("ieee"):
        strict = products()
    with fp32_matmul_precision("bf16"):
        fast = products()
    return all(float(((f - s).abs() / s.abs()).max()) <= FLOAT32_GRADE for f, s in zip(fast, strict))


class TorchLogisticProbe:
    """``fit(x, y, C)`` then ``predict_proba(x)``; keeps its solution between fits (warm start along a C grid).

    ``fast_fp32``: on CPU, allow oneDNN's implicit-bfloat16 float32 products (None: where the CPU has native
    bfloat16 and they check as float32-grade; always False for float64 and on the GPU).
    """

    def __init__(self, n_classes: int, device: str | None = None, max_iter: int = 300, tol: float = 1e-4, threads: int | None = 1, dtype: str = "float32", fast_fp32: bool | None = None):
        self.n_classes, self.max_iter, self.tol, self.threads = n_classes, max_iter, tol, threads
        self.device = device or default_device()
        self.dtype = getattr(_torch(), dtype)
        self.fast_fp32 = fast_fp32 if self.device == "cpu" and dtype == "float32" else False
        self.weight = self.bias = None
        self.n_iter = 0
        self._solver = self._x = self._y = None

    def _precision(self, d: int) -> str | None:
        """The oneDNN float32 precision for this fit: "bf16" where allowed, None (untouched) on the GPU."""
        if self.device != "cpu":
            return None
        fast = self.fast_fp32
        if fast is None:
            fast = cpu_has_native_bf16() and fast_fp32_is_float32_grade(d)
        return "bf16" if fast else "ieee"

    def _outputs(self) -> int:
        return 1 if self.n_classes == 2 else self.n_classes

    def _continues(self, x: np.ndarray, y: np.ndarray) -> bool:
        return self._solver is not None and self._x is not None and self._x() is x and np.array_equal(self._y, y)

    def fit(self, x: np.ndarray, y: np.ndarray, c: float) -> "TorchLogisticProbe":
        torch = _torch()
        from harness.protocols.logistic_lbfgs import LogisticLbfgs

        with torch_threads(self.threads if self.device == "cpu" else None), fp32_matmul_precision(self._precision(np.shape(x)[1])):
            if not self._continues(x, y):
                xt = torch.as_tensor(np.ascontiguousarray(x), dtype=self.dtype, device=self.device)
                yt = torch.as_tensor(np.asarray(y, dtype=np.int64), device=self.device)
                warm = self.weight is not None and self.weight.shape == (self._outputs(), xt.shape[1])
                self._solver = LogisticLbfgs(xt, yt, self._outputs(), *((self.weight, self.bias) if warm else (None, None)))
                self._x, self._y = _weak(x), np.array(y, copy=True)
            solver = self._solver.solve(1.0 / (c * len(y)), tol=self.tol, max_iter=self.max_iter)
            self.weight, self.bias, self.n_iter = solver.w, solver.b, solver.n_iter
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
