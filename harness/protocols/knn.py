"""``knn``: weighted k-nearest neighbours on frozen embeddings, by cosine similarity.

Embeddings are L2-normalized, so a dot product is the cosine similarity. Each of the k nearest
training cases votes with weight ``exp(similarity / temperature)`` (as in DINO's k-NN evaluation); a
case's class probabilities are its normalized votes (per label for multilabel). k is chosen from one
fixed grid on val with train as the memory bank; the test split is then predicted once with train + val
as the bank.
"""

from __future__ import annotations

import numpy as np
from threadpoolctl import threadpool_limits

from harness.protocols.base import EmbedProtocol, ProtocolOutcome, select_on_val


K_GRID = (10, 20, 50)
TEMPERATURE = 0.07
_CHUNK = 2048  # query rows per similarity block: bounds memory at CHUNK x bank floats


def _normalize(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.maximum(norms, 1e-12)


def _targets(task_type: str, y: np.ndarray, n_classes: int) -> np.ndarray:
    """What each bank case votes for: one-hot class, or its label vector (multilabel)."""
    if task_type == "multilabel":
        return np.asarray(y, dtype=np.float32)
    return np.eye(n_classes, dtype=np.float32)[np.asarray(y, dtype=np.int64)]


def knn_probs(bank: np.ndarray, targets: np.ndarray, queries: np.ndarray, ks: tuple[int, ...], temperature: float, multilabel: bool) -> dict[int, np.ndarray]:
    """Probabilities for every k in ``ks`` from one neighbour search (``bank``/``queries`` L2-normalized)."""
    k_max = min(max(ks), len(bank))
    out = {k: np.zeros((len(queries), targets.shape[1]), dtype=np.float32) for k in ks}
    for start in range(0, len(queries), _CHUNK):
        sims = queries[start : start + _CHUNK] @ bank.T
        top = np.argpartition(-sims, k_max - 1, axis=1)[:, :k_max] if k_max < len(bank) else np.tile(np.arange(len(bank)), (len(sims), 1))
        top_sims = np.take_along_axis(sims, top, axis=1)
        order = np.argsort(-top_sims, axis=1, kind="stable")  # nearest first, so the first k are the k nearest
        top, top_sims = np.take_along_axis(top, order, axis=1), np.take_along_axis(top_sims, order, axis=1)
        weights = np.exp((top_sims - top_sims[:, :1]) / temperature)  # shifted by the row max: same ratios, no overflow
        votes = targets[top]  # [q, k_max, C]
        for k in ks:
            kk = min(k, k_max)
            w = weights[:, :kk, None]
            scores = (w * votes[:, :kk]).sum(axis=1)
            if multilabel:  # weighted share of neighbours carrying each label; clipped against float rounding past 1
                out[k][start : start + len(sims)] = np.clip(scores / w.sum(axis=1), 0.0, 1.0)
            else:
                out[k][start : start + len(sims)] = scores / scores.sum(axis=1, keepdims=True)
    return out


class KnnProtocol(EmbedProtocol):
    name = "knn"

    def __init__(self, input_size: int | None = None, seed: int = 0, k_grid: tuple[int, ...] = K_GRID, temperature: float = TEMPERATURE):
        super().__init__(input_size=input_size, seed=seed, k_grid=[int(k) for k in k_grid], temperature=float(temperature))

    def score_embeddings(self, task_type, splits, labels, official_metric) -> ProtocolOutcome:
        with threadpool_limits(limits=1):
            return self._score(task_type, splits, labels, official_metric)

    def _score(self, task_type, splits, labels, official_metric) -> ProtocolOutcome:
        ks, temp, multilabel = tuple(self.options["k_grid"]), self.options["temperature"], task_type == "multilabel"
        n_classes = labels["n_classes"]
        tr, va, te = (_normalize(splits[s]) for s in ("train", "val", "test"))
        candidates = knn_probs(tr, _targets(task_type, labels["train"], n_classes), va, ks, temp, multilabel)
        best, val_scores = select_on_val(
            ((str(k), probs) for k, probs in candidates.items()), official_metric, task_type, labels["val"],
            tie_key=lambda k: -int(k), what="k",  # ties: the smaller k
        )
        k_best = int(best)
        bank = np.concatenate([tr, va])
        targets = _targets(task_type, np.concatenate([labels["train"], labels["val"]]), n_classes)
        test_probs = knn_probs(bank, targets, te, (k_best,), temp, multilabel)[k_best]
        choices = {
            "k": k_best,
            "temperature": temp,
            "similarity": "cosine",
            "selected_on": "val",
            "selection_metric": official_metric,
            "val_scores": val_scores,
            "bank": "train+val",
        }
        return ProtocolOutcome(test_probs=test_probs, choices=choices)
