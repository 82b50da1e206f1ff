"""``linear``: harness-owned L2 logistic regression on frozen embeddings.

Two solvers of the same objective: scikit-learn's lbfgs (the reference, the default) and the torch
full-batch L-BFGS probe (``solver="torch"``, ``protocols/torch_probe.py``, on the GPU when present).

Features are standardized on train. C is swept over one fixed log grid (ascending, warm-started), each fit on train and scored on
val with the dataset's official metric; the best C is refit on train + val (as DINOv2's evaluation
does; the torch solver starts the refit from the chosen C's solution, scikit-learn's from zero) and the test
split is predicted once. Multilabel: one head per label.
"""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from threadpoolctl import threadpool_limits
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from harness.protocols.base import EmbedProtocol, ProtocolOutcome, select_on_val


C_GRID = tuple(float(c) for c in np.logspace(-4, 2, 7))


SOLVERS = ("sklearn", "torch")


class _TorchHead:
    """The torch L-BFGS probe behind scikit-learn's interface (``classes_``, ``predict_proba``); it keeps the
    solution of every C it fitted, so the refit can start from the chosen one."""

    def __init__(self, max_iter: int):
        self.max_iter, self.probe, self.solutions = max_iter, None, {}

    def fit(self, x: np.ndarray, y: np.ndarray, c: float) -> "_TorchHead":
        from harness.protocols.torch_probe import TorchLogisticProbe

        self.classes_, codes = np.unique(y, return_inverse=True)
        if self.probe is None or self.probe.n_classes != len(self.classes_):
            self.probe = TorchLogisticProbe(len(self.classes_), max_iter=self.max_iter)
        self.probe.fit(x, codes, c)
        self.solutions[c] = (self.classes_, self.probe.weight, self.probe.bias)
        return self

    def started_at(self, c: float) -> "_TorchHead":
        """A head for other features whose first fit starts from this head's solution at ``c``."""
        from harness.protocols.torch_probe import TorchLogisticProbe

        head = _TorchHead(self.max_iter)
        classes, weight, bias = self.solutions[c]
        head.probe = TorchLogisticProbe(len(classes), max_iter=self.max_iter)
        head.probe.weight, head.probe.bias = weight, bias
        return head

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        return self.probe.predict_proba(x)


class _Heads:
    """One logistic-regression head (or one per label for multilabel), warm-started along the C grid."""

    def __init__(self, task_type: str, n_classes: int, seed: int, max_iter: int, solver: str = "sklearn"):
        self.task_type, self.n_classes, self.seed, self.max_iter, self.solver = task_type, n_classes, seed, max_iter, solver
        self.models: dict[int, LogisticRegression | _TorchHead] = {}

    def started_at(self, c: float) -> "_Heads":
        """Fresh heads for other features; torch heads start from these heads' solutions at ``c``."""
        heads = _Heads(self.task_type, self.n_classes, self.seed, self.max_iter, self.solver)
        if self.solver == "torch":
            heads.models = {key: head.started_at(c) for key, head in self.models.items() if c in head.solutions}
        return heads

    def _fit_one(self, key: int, x: np.ndarray, y: np.ndarray, c: float):
        if self.solver == "torch":
            return self.models.setdefault(key, _TorchHead(self.max_iter)).fit(x, y, c)
        model = self.models.setdefault(key, LogisticRegression(max_iter=self.max_iter, random_state=self.seed, warm_start=True))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            return model.set_params(C=c).fit(x, y)

    def fit_predict(self, x: np.ndarray, y: np.ndarray, xq: np.ndarray, c: float) -> np.ndarray:
        if self.task_type == "multilabel":
            cols = []
            for j in range(y.shape[1]):
                if y[:, j].min() == y[:, j].max():  # constant label in training: predict that value
                    cols.append(np.full(len(xq), float(y[0, j])))
                else:
                    cols.append(self._fit_one(j, x, y[:, j], c).predict_proba(xq)[:, 1])
            return np.stack(cols, axis=1).astype(np.float32)
        model = self._fit_one(-1, x, y, c)
        probs = np.zeros((len(xq), self.n_classes), dtype=np.float32)
        probs[:, model.classes_] = model.predict_proba(xq)  # classes absent from training keep probability 0
        return probs


class LinearProtocol(EmbedProtocol):
    name = "linear"

    def __init__(self, input_size: int | None = None, seed: int = 0, c_grid: tuple[float, ...] = C_GRID, max_iter: int = 300, solver: str = "sklearn"):
        if solver not in SOLVERS:
            raise ValueError(f"unknown linear-probe solver {solver!r}; known: {', '.join(SOLVERS)}")
        options = {"c_grid": [float(c) for c in c_grid], "max_iter": max_iter}
        if solver != "sklearn":  # the reference solver leaves the config (and every cache key) as it was
            options["solver"] = solver
        super().__init__(input_size=input_size, seed=seed, **options)

    def score_embeddings(self, task_type, splits, labels, official_metric) -> ProtocolOutcome:
        # One BLAS / OpenMP thread: on probe-sized matrices thread start-up costs ~8x the arithmetic.
        with threadpool_limits(limits=1):
            return self._score(task_type, splits, labels, official_metric)

    def _score(self, task_type, splits, labels, official_metric) -> ProtocolOutcome:
        return self.select_and_fit(task_type, splits, labels, official_metric, refit=True)

    def select_and_fit(self, task_type, splits, labels, official_metric, refit: bool) -> ProtocolOutcome:
        """Sweep C on val; predict test with the best C, refit on train + val when ``refit``, else fit on train."""
        n_classes = labels["n_classes"]
        scaler = StandardScaler().fit(splits["train"])
        tr, va, te = (scaler.transform(splits[s]) for s in ("train", "val", "test"))
        solver = self.options.get("solver", "sklearn")
        heads = _Heads(task_type, n_classes, self.seed, self.options["max_iter"], solver)
        # ascending C: each fit starts from the previous solution
        candidates = ((repr(c), heads.fit_predict(tr, labels["train"], va, c)) for c in sorted(self.options["c_grid"]))
        best, val_scores = select_on_val(
            candidates, official_metric, task_type, labels["val"], tie_key=lambda c: -float(c), what="C"  # ties: stronger regularization
        )
        c_best = float(best)
        if refit:
            scaler = StandardScaler().fit(np.concatenate([splits["train"], splits["val"]]))
            x_fit = scaler.transform(np.concatenate([splits["train"], splits["val"]]))
            y_fit = np.concatenate([labels["train"], labels["val"]])
            te = scaler.transform(splits["test"])
        else:
            x_fit, y_fit = tr, labels["train"]
        test_probs = heads.started_at(c_best).fit_predict(x_fit, y_fit, te, c_best)
        choices = {
            "C": c_best,
            "selected_on": "val",
            "selection_metric": official_metric,
            "val_scores": val_scores,
            "refit": "train+val" if refit else "train",
            "solver": solver,
        }
        return ProtocolOutcome(test_probs=test_probs, choices=choices)
