"""The protocols: registry, k-NN, few-shot, fine-tune; each records what it chose on val."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.neighbors import KNeighborsClassifier

from harness.errors import MedbenchError
from harness.protocols import PROTOCOLS, get_protocol
from harness.protocols.fewshot import FewshotProtocol, stratified_draw
from harness.protocols.finetune import FinetuneProtocol
from harness.protocols.knn import KnnProtocol, knn_probs
from harness.scoring.metrics import METRICS


def _blobs(rng, n, k, d=16, sep=3.0):
    y = rng.integers(0, k, n)
    centers = rng.normal(0, sep, (k, d))
    return (centers[y] + rng.normal(size=(n, d))).astype(np.float32), y


def _split(x, y, k):
    return {"train": x[:600], "val": x[600:800], "test": x[800:]}, {"train": y[:600], "val": y[600:800], "n_classes": k}


def test_registry_knows_every_protocol_and_rejects_others():
    assert set(PROTOCOLS) == {"linear", "knn", "fewshot", "finetune"}
    assert get_protocol("knn").kind == "embed" and get_protocol("finetune").kind == "finetune"
    with pytest.raises(MedbenchError, match="unknown protocol 'svm'; known: fewshot, finetune, knn, linear"):
        get_protocol("svm")


def test_configs_differ_so_cache_keys_differ():
    configs = [get_protocol(n).config() for n in PROTOCOLS]
    assert len({repr(sorted(c.items())) for c in configs}) == 4
    assert get_protocol("knn").config()["k_grid"] == [10, 20, 50]
    assert get_protocol("fewshot").config()["fractions"] == [0.01, 0.1, 1.0]


def test_knn_equals_sklearn_cosine_neighbours_in_the_flat_temperature_limit():
    # with a huge temperature every neighbour weighs the same: a plain majority of the k nearest by cosine
    rng = np.random.default_rng(0)
    x, y = _blobs(rng, 400, 3, sep=0.7)
    bank, q = x[:300] / np.linalg.norm(x[:300], axis=1, keepdims=True), x[300:] / np.linalg.norm(x[300:], axis=1, keepdims=True)
    ours = knn_probs(bank, np.eye(3, dtype=np.float32)[y[:300]], q, (10,), temperature=1e6, multilabel=False)[10]
    ref = KNeighborsClassifier(n_neighbors=10, metric="cosine", algorithm="brute").fit(x[:300], y[:300]).predict_proba(x[300:])
    np.testing.assert_allclose(ours, ref, atol=1e-4)


def test_knn_temperature_weights_votes_by_similarity():
    bank = np.array([[1.0, 0.0], [0.8, 0.6], [0.0, 1.0]], dtype=np.float32)  # cosines to the query: 1, 0.8, 0
    targets = np.eye(2, dtype=np.float32)[[0, 1, 1]]
    probs = knn_probs(bank, targets, np.array([[1.0, 0.0]], dtype=np.float32), (3,), temperature=0.1, multilabel=False)[3][0]
    w = np.exp(np.array([1.0, 0.8, 0.0]) / 0.1)
    assert probs[0] == pytest.approx(w[0] / w.sum(), rel=1e-5)


def test_knn_protocol_chooses_k_on_val_and_records_it():
    rng = np.random.default_rng(1)
    x, y = _blobs(rng, 1000, 4)
    splits, labels = _split(x, y, 4)
    out = KnnProtocol().score_embeddings("multiclass", splits, labels, "auroc")
    assert out.test_probs.shape == (200, 4)
    np.testing.assert_allclose(out.test_probs.sum(1), 1, atol=1e-5)
    assert METRICS["accuracy"].point("multiclass", y[800:], out.test_probs) > 0.9
    assert out.choices["k"] in (10, 20, 50) and set(out.choices["val_scores"]) == {"10", "20", "50"}
    assert out.choices["selected_on"] == "val" and out.choices["similarity"] == "cosine"


def test_knn_multilabel_gives_per_label_probabilities():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(500, 8)).astype(np.float32)
    y = np.stack([x[:, 0] > 0, x[:, 1] > 0], 1).astype(int)
    splits = {"train": x[:300], "val": x[300:400], "test": x[400:]}
    out = KnnProtocol().score_embeddings("multilabel", splits, {"train": y[:300], "val": y[300:400], "n_classes": 2}, "auroc")
    assert out.test_probs.shape == (100, 2) and (out.test_probs >= 0).all() and (out.test_probs <= 1).all()
    assert METRICS["auroc"].point("multilabel", y[400:], out.test_probs) > 0.85


def test_stratified_draw_keeps_every_class_and_is_seeded():
    y = np.repeat(np.arange(4), [500, 300, 150, 5])
    rows = stratified_draw(y, 0.1, seed=3, multilabel=False)
    assert list(np.bincount(y[rows])) == [50, 30, 15, 1]
    assert np.array_equal(rows, stratified_draw(y, 0.1, seed=3, multilabel=False))
    assert not np.array_equal(rows, stratified_draw(y, 0.1, seed=4, multilabel=False))
    assert len(stratified_draw(y, 1.0, seed=3, multilabel=False)) == len(y)


def test_fewshot_reports_every_fraction_and_seed():
    rng = np.random.default_rng(3)
    x, y = _blobs(rng, 1000, 3)
    splits, labels = _split(x, y, 3)
    proto = FewshotProtocol(fractions=(0.05, 1.0), seeds=3, headline_fraction=0.05, c_grid=(0.1, 1.0))
    out = proto.score_embeddings("multiclass", splits, labels, "auroc")
    assert set(out.settings) == {"0.05", "1"} and len(out.settings["0.05"]) == 3 and len(out.settings["1"]) == 1
    assert len(out.members) == 3 and out.members is out.settings["0.05"]
    draws = out.choices["draws"]["0.05"]
    assert [d["seed"] for d in draws] == [0, 1, 2] and all(d["n_train"] < 60 for d in draws)
    assert all(d["C"] in (0.1, 1.0) for d in draws) and out.choices["draws"]["1"][0]["n_train"] == 600
    assert not np.allclose(out.members[0], out.members[1])  # different draws, different heads


def test_fewshot_rejects_a_headline_outside_its_fractions():
    with pytest.raises(ValueError, match="headline fraction 0.5"):
        FewshotProtocol(headline_fraction=0.5)


def test_finetune_keeps_the_container_choices():
    out = FinetuneProtocol(max_epochs=3).accept_predictions(np.full((4, 2), 0.5), {"best_epoch": 2})
    assert out.choices["container"] == {"best_epoch": 2} and out.choices["budget"]["max_epochs"] == 3
    assert out.test_probs.dtype == np.float32
