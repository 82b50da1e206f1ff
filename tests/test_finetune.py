"""medbench_models.finetune: schedule, layer-wise lr decay, budget, selection on val, metrics."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.metrics import accuracy_score, balanced_accuracy_score, cohen_kappa_score, f1_score, roc_auc_score

from medbench_models import finetune as ft
from medbench_models.families import get_family
from medbench_models.finetune import FinetuneConfig, finetune
from medbench_models.metrics import auroc, balanced_accuracy, qwk, selection_metric, selection_score


def test_warmup_then_cosine_to_zero():
    lrs = [ft.warmup_cosine(s, 100, 10) for s in range(100)]
    assert lrs[0] == pytest.approx(0.1) and lrs[9] == pytest.approx(1.0)
    assert all(a >= b for a, b in zip(lrs[9:], lrs[10:])) and lrs[-1] < 0.01


def test_layer_decay_gives_early_blocks_smaller_rates():
    backbone = get_family("dinov2").build("vit_small_patch14_dinov2.lvd142m", 28)
    head = torch.nn.Linear(backbone.num_features, 3)
    groups = ft.param_groups(backbone, head, ft.FinetuneConfig(layer_decay=0.75))
    scale_of = {id(p): g["lr_scale"] for g in groups for p in g["params"]}
    first, last = backbone.trunk.blocks[0].attn.qkv.weight, backbone.trunk.blocks[-1].attn.qkv.weight
    # timm's layer ids: the stem is layer 0, block i is layer i + 1; the top block and the head train at the full rate
    assert scale_of[id(first)] == pytest.approx(0.75 ** 11) and scale_of[id(last)] == scale_of[id(head.weight)] == 1.0
    assert scale_of[id(backbone.trunk.patch_embed.proj.weight)] == pytest.approx(0.75 ** 12)
    assert sum(len(g["params"]) for g in groups) == len(list(backbone.parameters())) + 2  # every parameter once
    no_decay = [g for g in groups if g["weight_decay"] == 0.0]
    assert any(p is head.bias for g in no_decay for p in g["params"])


@pytest.mark.parametrize("task_type", ["multiclass", "multilabel"])
def test_finetune_trains_selects_on_val_and_respects_the_epoch_budget(task_type, monkeypatch):
    rng = np.random.default_rng(0)
    n = 24
    labels = np.arange(n) % 3
    images = np.zeros((n, 32, 32, 3), np.uint8)
    images[..., 0] = (labels * 120)[:, None, None]  # the class is in the red channel: learnable
    images = (images + rng.integers(0, 20, images.shape)).astype(np.uint8)
    y = np.eye(3, dtype=np.int64)[labels] if task_type == "multilabel" else labels
    data = {"train_images": images[:12], "train_labels": y[:12], "val_images": images[12:18], "val_labels": y[12:18], "test_images": images[18:]}
    seen = []
    real_predict = ft.predict
    monkeypatch.setattr(ft, "predict", lambda model, imgs, *a: seen.append(len(imgs)) or real_predict(model, imgs, *a))
    backbone = get_family("supervised").build("resnet18.a1_in1k", None)
    cfg = ft.FinetuneConfig(lr=1e-3, batch_size=4, max_epochs=3, max_seconds=600)
    test_probs, val_probs, info = ft.finetune(backbone, task_type, 3, data, 32, [0.5] * 3, [0.5] * 3, cfg)
    assert test_probs.shape == (6, 3) and val_probs.shape == (6, 3) and np.isfinite(test_probs).all()
    if task_type == "multiclass":
        np.testing.assert_allclose(test_probs.sum(1), 1.0, rtol=1e-5)
    else:
        assert ((test_probs >= 0) & (test_probs <= 1)).all()
    assert info["epochs_run"] == 3 and info["stopped_by"] == "max_epochs" and 1 <= info["best_epoch"] <= 3
    assert seen.count(6) == 3 + 2  # val after each epoch, then val and test once each with the best weights
    assert info["selection_metric"] == {"multiclass": "balanced_accuracy", "multilabel": "auroc"}[task_type]


def test_finetune_stops_on_the_time_budget():
    images = np.random.default_rng(1).integers(0, 256, (8, 32, 32, 3), dtype=np.uint8)
    labels = np.arange(8) % 2
    data = {"train_images": images[:4], "train_labels": labels[:4], "val_images": images[4:6], "val_labels": labels[4:6], "test_images": images[6:]}
    backbone = get_family("supervised").build("resnet18.a1_in1k", None)
    _, _, info = ft.finetune(backbone, "binary", 2, data, 32, [0.5] * 3, [0.5] * 3, ft.FinetuneConfig(batch_size=4, max_epochs=50, max_seconds=1e-3))
    assert info["stopped_by"] == "max_seconds" and info["epochs_run"] == 1


def test_a_zero_epoch_budget_predicts_with_the_untrained_head():
    images = np.random.default_rng(2).integers(0, 256, (6, 32, 32, 3), dtype=np.uint8)
    data = {"train_images": images[:2], "train_labels": np.array([0, 1]), "val_images": images[2:4], "val_labels": np.array([0, 1]), "test_images": images[4:]}
    backbone = get_family("supervised").build("resnet18.a1_in1k", None)
    test_probs, _, info = ft.finetune(backbone, "binary", 2, data, 32, [0.5] * 3, [0.5] * 3, ft.FinetuneConfig(max_epochs=0))
    assert test_probs.shape == (2, 2) and info["epochs_run"] == 0 and info["best_epoch"] == 0
    assert info["best_val_score"] is None  # JSON-safe: no -inf


def test_selection_metrics_agree_with_scikit_learn():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 4, 200)
    probs = rng.dirichlet(np.ones(4), 200)
    pred = probs.argmax(1)
    assert balanced_accuracy(y, pred) == pytest.approx(balanced_accuracy_score(y, pred))
    assert qwk(y, pred, 4) == pytest.approx(cohen_kappa_score(y, pred, weights="quadratic"))
    scores = np.round(probs[:, 1], 1)  # ties
    assert auroc(y == 1, scores) == pytest.approx(roc_auc_score(y == 1, scores))
    assert np.isnan(auroc(np.zeros(5), np.arange(5)))
    assert selection_score("ordinal", y, probs) == pytest.approx(cohen_kappa_score(y, pred, weights="quadratic"))
    multilabel = rng.integers(0, 2, (200, 3))
    multilabel[:, 2] = 0  # undefined label: left out of the mean
    expected = np.mean([roc_auc_score(multilabel[:, j], probs[:, j]) for j in range(2)])
    assert selection_score("multilabel", multilabel, probs[:, :3]) == pytest.approx(expected)


def test_selection_follows_the_datasets_official_metric():
    """task.json's dataset.official_metric decides; without it the task type's usual metric does."""
    rng = np.random.default_rng(1)
    y = rng.integers(0, 4, 300)
    probs = rng.dirichlet(np.ones(4), 300)
    pred = probs.argmax(1)
    assert selection_score("ordinal", y, probs, "auroc") == pytest.approx(roc_auc_score(y, probs, multi_class="ovr", average="macro"))
    assert selection_score("multiclass", y, probs, "macro_f1") == pytest.approx(f1_score(y, pred, average="macro"))
    assert selection_score("multiclass", y, probs, "accuracy") == pytest.approx(accuracy_score(y, pred))
    assert selection_score("ordinal", y, probs, None) == pytest.approx(cohen_kappa_score(y, pred, weights="quadratic"))
    assert selection_metric("ordinal", "auroc") == "auroc" and selection_metric("binary", None) == "auroc"
    with pytest.raises(ValueError, match="official_metric 'f2' is not one of"):
        selection_metric("binary", "f2")


def test_finetune_records_and_uses_the_official_metric():
    torch.manual_seed(0)
    backbone = get_family("supervised").build("resnet18.a1_in1k", None)
    rng = np.random.default_rng(0)
    data = {
        "train_images": rng.integers(0, 256, (8, 32, 32, 3), dtype=np.uint8), "train_labels": rng.integers(0, 3, 8),
        "val_images": rng.integers(0, 256, (6, 32, 32, 3), dtype=np.uint8), "val_labels": np.array([0, 1, 2, 0, 1, 2]),
        "test_images": rng.integers(0, 256, (2, 32, 32, 3), dtype=np.uint8),
    }
    cfg = FinetuneConfig(batch_size=4, max_epochs=1, max_seconds=300, official_metric="auroc")
    _, val_probs, info = finetune(backbone, "ordinal", 3, data, 32, [0.5] * 3, [0.25] * 3, cfg, "cpu")
    assert info["selection_metric"] == "auroc"
    assert info["best_val_score"] == pytest.approx(roc_auc_score(data["val_labels"], val_probs, multi_class="ovr"), abs=1e-5)
    with pytest.raises(ValueError, match="official_metric"):
        finetune(backbone, "ordinal", 3, data, 32, [0.5] * 3, [0.25] * 3, FinetuneConfig(official_metric="dice"), "cpu")
