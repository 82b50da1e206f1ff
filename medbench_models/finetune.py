"""Full fine-tuning with a linear head, inside the task's budget.

AdamW; layer-wise learning-rate decay over the trunk's blocks (timm's ``group_matcher``), the head at the
full rate; linear warmup then cosine decay per step; after every epoch the val predictions are scored
with the dataset's official metric (``task.json``'s ``dataset.official_metric``, else the task type's
usual one; ``metrics``) and the best epoch's weights are kept; the test split
is predicted once, with those weights. Training stops at ``max_epochs`` or when the next epoch would not
fit in ``max_seconds`` (with the test pass reserved). Activation checkpointing is on during training
(timm's ``set_grad_checkpointing``) so that native resolutions fit in a container's memory limit; the
best epoch's weights are kept as one CPU copy.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from medbench_models.embed import map_batches, preprocess
from medbench_models.metrics import selection_metric, selection_score


@dataclass(frozen=True)
class FinetuneConfig:
    lr: float = 1e-4
    weight_decay: float = 0.05
    layer_decay: float = 0.75
    warmup_fraction: float = 0.1
    batch_size: int = 32
    max_epochs: int = 10
    max_seconds: float = 3600.0
    seed: int = 0
    official_metric: str | None = None  # task.json's dataset.official_metric: epochs are chosen on val by it


def param_groups(backbone: nn.Module, head: nn.Module, cfg: FinetuneConfig) -> list[dict]:
    """Layer-decayed groups for the trunk (``lr_scale`` per block) and one full-rate group for the head."""
    from timm.optim import param_groups_layer_decay

    no_decay = getattr(backbone.trunk, "no_weight_decay", lambda: ())()  # position embeddings, class tokens
    groups = param_groups_layer_decay(backbone.trunk, weight_decay=cfg.weight_decay, no_weight_decay_list=no_decay,
                                      layer_decay=cfg.layer_decay)
    groups.append({"params": [head.weight], "weight_decay": cfg.weight_decay, "lr_scale": 1.0})
    groups.append({"params": [head.bias], "weight_decay": 0.0, "lr_scale": 1.0})
    return groups


def warmup_cosine(step: int, total: int, warmup: int) -> float:
    if step < warmup:
        return (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))


class Classifier(nn.Module):
    def __init__(self, backbone: nn.Module, num_outputs: int):
        super().__init__()
        self.backbone = backbone
        self.head = nn.Linear(backbone.num_features, num_outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.backbone(x))


def _cpu_copy(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}


def _probs(logits: torch.Tensor, multilabel: bool) -> torch.Tensor:
    return torch.sigmoid(logits) if multilabel else torch.softmax(logits, dim=1)


@torch.no_grad()
def predict(model: Classifier, images: np.ndarray, size: int, mean, std, multilabel: bool, batch_size: int, device: torch.device) -> np.ndarray:
    model.eval()

    def run(chunk: np.ndarray) -> np.ndarray:
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
            logits = model(preprocess(chunk, size, mean, std, device))
        return _probs(logits.float(), multilabel).cpu().numpy()

    return np.concatenate(map_batches(run, images, batch_size, device)).astype(np.float32)


def _accumulate(model, loss_fn, x_all, y_all, idx: np.ndarray, micro: int, multilabel: bool, prep, dev: torch.device) -> int:
    """Gradients of one batch, in micro-batches of ``micro`` images (halved on CUDA out-of-memory).

    Returns the micro-batch size that fitted, for the next step.
    """
    size, mean, std = prep
    while True:
        model.zero_grad(set_to_none=True)
        try:
            for start in range(0, len(idx), micro):
                part = idx[start : start + micro]
                x = preprocess(x_all[part], size, mean, std, dev)
                y = torch.as_tensor(np.asarray(y_all[part]), device=dev)
                with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=dev.type == "cuda"):
                    logits = model(x)
                loss = loss_fn(logits.float(), y.float() if multilabel else y.long())
                (loss * (len(part) / len(idx))).backward()
            return micro
        except torch.OutOfMemoryError:
            if micro == 1:
                raise
            micro = max(1, micro // 2)
            torch.cuda.empty_cache()


def finetune(backbone: nn.Module, task_type: str, num_classes: int, data: dict[str, np.ndarray], size: int, mean, std,
             cfg: FinetuneConfig, device: str = "cpu") -> tuple[np.ndarray, np.ndarray, dict]:
    """Train on ``data['train_*']``, select on ``data['val_*']``, predict ``data['test_images']`` once.

    Returns ``(test_probs, val_probs, info)``; ``info`` says the best epoch, its val score and metric,
    the epochs run and why training stopped.
    """
    t_start = time.monotonic()
    selection_metric(task_type, cfg.official_metric)  # an unknown metric fails before any training
    dev = torch.device(device)
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    multilabel = task_type == "multilabel"
    model = Classifier(backbone, num_classes).to(dev)
    groups = param_groups(backbone, model.head, cfg)
    opt = torch.optim.AdamW(groups, lr=cfg.lr)
    loss_fn = nn.BCEWithLogitsLoss() if multilabel else nn.CrossEntropyLoss()
    x_train, y_train = data["train_images"], data["train_labels"]
    n = len(x_train)
    steps_per_epoch = max(1, math.ceil(n / cfg.batch_size))
    total = steps_per_epoch * max(1, cfg.max_epochs)
    warmup = max(1, int(cfg.warmup_fraction * total))
    backbone.trunk.set_grad_checkpointing(True)
    best = {"score": -math.inf, "epoch": 0, "state": None}
    history: list[float] = []
    stop_reason, step, epoch_seconds, micro = "max_epochs", 0, 0.0, cfg.batch_size
    for epoch in range(1, cfg.max_epochs + 1):
        elapsed = time.monotonic() - t_start
        if epoch > 1 and elapsed + 2 * epoch_seconds > cfg.max_seconds:  # one more epoch + the test pass
            stop_reason = "max_seconds"
            break
        t_epoch = time.monotonic()
        model.train()
        order = rng.permutation(n)
        for b in range(steps_per_epoch):
            idx = np.sort(order[b * cfg.batch_size : (b + 1) * cfg.batch_size])
            scale = warmup_cosine(step, total, warmup)
            for g in opt.param_groups:
                g["lr"] = cfg.lr * scale * g.get("lr_scale", 1.0)
            micro = _accumulate(model, loss_fn, x_train, y_train, idx, micro, multilabel, (size, mean, std), dev)
            opt.step()
            step += 1
        val_probs = predict(model, data["val_images"], size, mean, std, multilabel, cfg.batch_size, dev)
        score = selection_score(task_type, np.asarray(data["val_labels"]), val_probs, cfg.official_metric)
        history.append(score)
        if not np.isnan(score) and score > best["score"] or best["epoch"] == 0:
            best["state"] = None  # never two copies at once
            best = {"score": score, "epoch": epoch, "state": _cpu_copy(model)}
        epoch_seconds = time.monotonic() - t_epoch
    if best["state"] is not None:
        model.load_state_dict(best["state"])
        best["state"] = None
    val_probs = predict(model, data["val_images"], size, mean, std, multilabel, cfg.batch_size, dev)
    test_probs = predict(model, data["test_images"], size, mean, std, multilabel, cfg.batch_size, dev)
    info = {
        "best_epoch": best["epoch"],
        "selection_metric": selection_metric(task_type, cfg.official_metric),
        "best_val_score": round(float(best["score"]), 6) if np.isfinite(best["score"]) else None,
        "epochs_run": len(history),
        "stopped_by": stop_reason,
        "optimizer": f"AdamW lr {cfg.lr} wd {cfg.weight_decay} layer decay {cfg.layer_decay}, warmup-cosine",
    }
    return test_probs, val_probs, info
