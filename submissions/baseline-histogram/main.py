"""Baseline submission: contract v1 through the medbench SDK (numpy only)."""

import platform
import sys

import numpy as np

sys.path.insert(0, "/opt/submission")
import features  # noqa: E402
from medbench_sdk import ModelInfo, serve  # noqa: E402

VARIANT = "hist16-thumb8"


def softmax(z):
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


class HistogramBaseline:
    name = "baseline-histogram"
    version = "1.0.0"

    def load(self, task):
        if task.variant != VARIANT:
            raise ValueError(f"variant {task.variant!r} is not built into this image (only {VARIANT})")
        return ModelInfo(
            model_id="rgb-histogram16+thumbnail8",
            variant=VARIANT,
            parameters=0,
            embedding_dim=features.DIM,
            input_size=int(task.images().shape[1]) if task.kind == "embed" else int(task.train_images().shape[1]),
            pooling="none (hand-crafted features: RGB histograms + 8x8 thumbnail)",
            normalization_mean=[0.0, 0.0, 0.0],
            normalization_std=[255.0, 255.0, 255.0],
            weights_source="none",
            checkpoint="none (no learned weights)",
            device_name=platform.processor() or platform.machine(),
        )

    def embed(self, task, images):
        return features.embed(images)

    def finetune(self, task):
        """Softmax regression on the features, full-batch gradient descent; epoch chosen on val accuracy."""
        if task.dataset.task_type == "multilabel":
            raise ValueError("the baseline's finetune handles single-label tasks only")
        k = task.dataset.num_classes
        xtr, xva, xte = (features.embed(a) for a in (task.train_images(), task.val_images(), task.test_images()))
        mu, sd = xtr.mean(0), xtr.std(0) + 1e-6
        xtr, xva, xte = ((a - mu) / sd for a in (xtr, xva, xte))
        ytr, yva = task.train_labels().astype(int).ravel(), task.val_labels().astype(int).ravel()
        rng = np.random.default_rng(task.seed)
        w = rng.normal(0, 0.01, (xtr.shape[1], k)).astype(np.float32)
        b = np.zeros(k, np.float32)
        onehot = np.eye(k, dtype=np.float32)[ytr]
        best = (-1.0, 0, w.copy(), b.copy())
        epochs = max(1, task.max_epochs)
        for epoch in range(1, epochs + 1):
            p = softmax(xtr @ w + b)
            grad = (p - onehot) / len(xtr)
            w -= 0.5 * (xtr.T @ grad + 1e-3 * w)
            b -= 0.5 * grad.sum(0)
            acc = float((softmax(xva @ w + b).argmax(1) == yva).mean())
            if acc > best[0]:
                best = (acc, epoch, w.copy(), b.copy())
        acc, epoch, w, b = best
        return softmax(xte @ w + b).astype(np.float32), softmax(xva @ w + b).astype(np.float32), {
            "epochs_run": epochs,
            "best_epoch": epoch,
            "selected_on": "val accuracy",
            "val_accuracy": acc,
        }


if __name__ == "__main__":
    sys.exit(serve(HistogramBaseline()))
