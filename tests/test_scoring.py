"""Metrics against scikit-learn and hand-computed cases; bootstrap determinism; the linear protocol."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as skm

from harness.protocols.linear import LinearProtocol
from harness.scoring.bootstrap import BootstrapConfig, resample_weights, score_with_ci
from harness.scoring.metrics import METRICS, Undefined, metrics_for


def _probs(rng, n, k):
    z = rng.normal(size=(n, k))
    e = np.exp(z)
    return (e / e.sum(1, keepdims=True)).astype(np.float32)


CASES = [(t, k, m) for t, k in (("binary", 2), ("multiclass", 4), ("ordinal", 5)) for m in METRICS if t in METRICS[m].task_types]


@pytest.mark.parametrize("task_type,k,name", CASES)
def test_batched_path_equals_sklearn_point_on_every_resample(task_type, k, name):
    metric = METRICS[name]
    rng = np.random.default_rng(1)
    y = rng.integers(0, k, 300)
    probs = np.round(_probs(rng, 300, k), 2)  # rounded: ties in the scores too
    weights = resample_weights(300, BootstrapConfig(resamples=5, seed=3))
    batch = metric.batch(task_type, y, probs, weights)
    for b in range(5):
        idx = np.repeat(np.arange(300), weights[b])  # the resample as explicit cases
        assert batch[b] == pytest.approx(metric.point(task_type, y[idx], probs[idx]), abs=1e-9)
    assert metric.batch(task_type, y, probs, np.ones((1, 300), np.int32))[0] == pytest.approx(metric.point(task_type, y, probs), abs=1e-9)


@pytest.mark.parametrize("name", ["auroc", "accuracy", "ece"])
def test_batched_multilabel_equals_point(name):
    rng = np.random.default_rng(9)
    y = (rng.random((200, 3)) < 0.3).astype(int)
    probs = rng.random((200, 3)).astype(np.float32)
    weights = resample_weights(200, BootstrapConfig(resamples=3, seed=1))
    for b, value in enumerate(METRICS[name].batch("multilabel", y, probs, weights)):
        idx = np.repeat(np.arange(200), weights[b])
        assert value == pytest.approx(METRICS[name].point("multilabel", y[idx], probs[idx]), abs=1e-9)


def test_auroc_matches_sklearn_macro_ovr():
    rng = np.random.default_rng(2)
    y = rng.integers(0, 3, 200)
    probs = _probs(rng, 200, 3)
    expected = skm.roc_auc_score(y, probs, multi_class="ovr", average="macro")
    assert METRICS["auroc"].point("multiclass", y, probs) == pytest.approx(expected)


def test_hand_computed_binary_auroc_and_qwk():
    y = np.array([0, 0, 1, 1])
    probs = np.array([[0.9, 0.1], [0.6, 0.4], [0.65, 0.35], [0.2, 0.8]])
    # positive scores 0.35, 0.8 vs negatives 0.1, 0.4: pairs won 3 of 4
    assert METRICS["auroc"].point("binary", y, probs) == pytest.approx(0.75)
    y = np.array([0, 1, 2])
    perfect = np.eye(3)[y]
    assert METRICS["qwk"].point("ordinal", y, perfect) == pytest.approx(1.0)


def test_class_without_positives_is_undefined_not_half():
    y = np.array([0, 0, 1, 1])
    probs = _probs(np.random.default_rng(3), 4, 3)  # class 2 never occurs
    with pytest.raises(Undefined):
        METRICS["auroc"].point("multiclass", y, probs)
    cfg = BootstrapConfig(resamples=50)
    out = score_with_ci(METRICS["auroc"], "multiclass", y, [probs], resample_weights(4, cfg), cfg.level)
    assert out["value"] is None and "no positive" in out["undefined_reason"]


def test_bootstrap_is_deterministic_and_brackets_the_value():
    rng = np.random.default_rng(4)
    y = rng.integers(0, 5, 400)
    probs = _probs(rng, 400, 5)
    probs[np.arange(400), y] += 0.5
    cfg = BootstrapConfig(resamples=300, seed=7)
    a = score_with_ci(METRICS["auroc"], "ordinal", y, [probs], resample_weights(400, cfg), 0.95)
    b = score_with_ci(METRICS["auroc"], "ordinal", y, [probs], resample_weights(400, cfg), 0.95)
    assert a == b
    assert a["ci_low"] < a["value"] < a["ci_high"]
    other = resample_weights(400, BootstrapConfig(resamples=300, seed=8))
    assert not np.array_equal(resample_weights(400, cfg), other)
    assert (resample_weights(400, cfg).sum(axis=1) == 400).all()


def test_group_bootstrap_draws_whole_groups():
    groups = np.repeat(np.arange(10), 3)
    weights = resample_weights(30, BootstrapConfig(resamples=20, seed=0), groups=groups)
    for row in weights:
        per_group = row.reshape(10, 3)
        assert (per_group == per_group[:, :1]).all()  # every case of a group is drawn as often as its group
        assert per_group[:, 0].sum() == 10  # 10 groups drawn


def test_metrics_for_ordinal_puts_official_first():
    names = [m.name for m in metrics_for("ordinal", "auroc", ("accuracy", "qwk", "auroc"))]
    assert names == ["auroc", "accuracy", "qwk"]


def _blobs(rng, n, k, d=16, sep=3.0):
    y = rng.integers(0, k, n)
    centers = rng.normal(0, sep, (k, d))
    return (centers[y] + rng.normal(size=(n, d))).astype(np.float32), y


def test_linear_protocol_learns_and_chooses_c_on_val_only():
    rng = np.random.default_rng(5)
    x, y = _blobs(rng, 600, 4)
    splits = {"train": x[:300], "val": x[300:400], "test": x[400:]}
    labels = {"train": y[:300], "val": y[300:400], "n_classes": 4}
    out = LinearProtocol(c_grid=(1e-3, 1e-1, 10.0)).score_embeddings("multiclass", splits, labels, "auroc")
    assert out.test_probs.shape == (200, 4)
    np.testing.assert_allclose(out.test_probs.sum(1), 1, atol=1e-5)
    assert METRICS["accuracy"].point("multiclass", y[400:], out.test_probs) > 0.9
    assert out.choices["C"] in (1e-3, 1e-1, 10.0) and out.choices["selected_on"] == "val"
    assert set(out.choices["val_scores"]) == {repr(1e-3), repr(1e-1), repr(10.0)}


def test_linear_protocol_multilabel_has_one_head_per_label():
    rng = np.random.default_rng(6)
    x = rng.normal(size=(300, 8)).astype(np.float32)
    y = np.stack([(x[:, 0] > 0), (x[:, 1] > 0), np.zeros(300, bool)], 1).astype(int)
    y[::50, 2] = 1
    splits = {"train": x[:150], "val": x[150:200], "test": x[200:]}
    out = LinearProtocol(c_grid=(1.0,)).score_embeddings("multilabel", splits, {"train": y[:150], "val": y[150:200], "n_classes": 3}, "accuracy")
    assert out.test_probs.shape == (100, 3)
    assert METRICS["auroc"].point("binary", y[200:, 0], np.stack([1 - out.test_probs[:, 0], out.test_probs[:, 0]], 1)) > 0.95


def test_hand_computed_expected_calibration_error():
    # four cases, confidences 0.9 (right), 0.9 (wrong), 0.6 (right), 0.55 (right)
    y = np.array([0, 0, 1, 1])
    probs = np.array([[0.9, 0.1], [0.1, 0.9], [0.4, 0.6], [0.45, 0.55]])
    # bin (0.8667, 0.9333]: 2 cases, accuracy 0.5, confidence 0.9 -> gap 0.4 x 2/4
    # bin (0.5333, 0.6]: 2 cases (0.6 and 0.55), accuracy 1, confidence 0.575 -> gap 0.425 x 2/4
    expected = 0.5 * 0.4 + 0.5 * 0.425
    assert METRICS["ece"].point("binary", y, probs) == pytest.approx(expected)
    assert METRICS["ece"].batch("binary", y, probs, np.ones((1, 4), np.int32))[0] == pytest.approx(expected)
    assert not METRICS["ece"].higher_is_better


def test_every_record_metric_set_includes_the_standard_secondaries():
    from harness.scoring.metrics import STANDARD_SECONDARY

    assert [m.name for m in metrics_for("ordinal", "auroc", STANDARD_SECONDARY)] == ["auroc", "accuracy", "macro_f1", "balanced_accuracy", "qwk", "ece"]
    assert [m.name for m in metrics_for("multilabel", "auroc", STANDARD_SECONDARY)] == ["auroc", "accuracy", "ece"]
    assert "qwk" not in [m.name for m in metrics_for("multiclass", "balanced_accuracy", STANDARD_SECONDARY)]


def test_several_members_average_their_metric():
    rng = np.random.default_rng(11)
    y = rng.integers(0, 3, 300)
    a, b = _probs(rng, 300, 3), _probs(rng, 300, 3)
    cfg = BootstrapConfig(resamples=200)
    out = score_with_ci(METRICS["accuracy"], "multiclass", y, [a, b], resample_weights(300, cfg), 0.95)
    mean = (METRICS["accuracy"].point("multiclass", y, a) + METRICS["accuracy"].point("multiclass", y, b)) / 2
    assert out["value"] == pytest.approx(mean) and out["ci_low"] < mean < out["ci_high"]


def test_count_matrix_dtype_is_exact_for_the_split_size():
    small, large = resample_weights(300, BootstrapConfig(resamples=4)), resample_weights(20_000, BootstrapConfig(resamples=2))
    assert small.dtype == np.int16 and large.dtype == np.int32
    rng = np.random.default_rng(12)
    y = rng.integers(0, 2, 16_384)
    probs = _probs(rng, 16_384, 2)
    w = resample_weights(16_384, BootstrapConfig(resamples=3))  # 2n >= 2**15: int32
    assert w.dtype == np.int32
    np.testing.assert_allclose(METRICS["auroc"].batch("binary", y, probs, w), METRICS["auroc"].batch("binary", y, probs, w.astype(np.int64)))
    y = y[:16_383]
    w = resample_weights(16_383, BootstrapConfig(resamples=3))  # the largest int16 split: partial sums up to 2n still fit
    assert w.dtype == np.int16
    np.testing.assert_allclose(METRICS["auroc"].batch("binary", y, probs[:16_383], w), METRICS["auroc"].batch("binary", y, probs[:16_383], w.astype(np.int64)))
