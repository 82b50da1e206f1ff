"""Batched embedding: resize + normalize on the device, bf16 autocast on CUDA, halve the batch on OOM."""

from __future__ import annotations

import os

import numpy as np
import torch
import torch.nn.functional as F


def set_threads() -> None:
    torch.set_num_threads(max(1, len(os.sched_getaffinity(0))))


def preprocess(batch: np.ndarray, size: int, mean, std, device: torch.device) -> torch.Tensor:
    """uint8 [B,H,W,3] -> float [B,3,size,size], bicubic (antialiased) resize, the model's normalization."""
    x = torch.from_numpy(np.array(batch, dtype=np.uint8, copy=True)).to(device).permute(0, 3, 1, 2).float().div_(255.0)
    if x.shape[-2:] != (size, size):
        x = F.interpolate(x, size=(size, size), mode="bicubic", align_corners=False, antialias=True).clamp_(0, 1)
    m = torch.tensor(mean, device=device).view(1, 3, 1, 1)
    s = torch.tensor(std, device=device).view(1, 3, 1, 1)
    return (x - m) / s


def map_batches(fn, images: np.ndarray, batch_size: int, device: torch.device) -> list[np.ndarray]:
    """``fn(chunk)`` over ``images`` in batches; on CUDA out-of-memory the batch is halved and retried."""
    out: list[np.ndarray] = []
    start = 0
    while start < len(images):
        chunk = images[start : start + batch_size]
        try:
            res = fn(chunk)
        except torch.OutOfMemoryError:
            if batch_size == 1:
                raise
            batch_size = max(1, batch_size // 2)
            if device.type == "cuda":
                torch.cuda.empty_cache()
            continue
        out.append(res)
        start += len(chunk)
    return out


@torch.inference_mode()
def embed(model, images: np.ndarray, size: int, mean, std, batch_size: int = 64, device: str = "cpu") -> np.ndarray:
    """float32 [N, model.num_features]: one pooled embedding per image, in order."""
    dev = torch.device(device)

    def run(chunk: np.ndarray) -> np.ndarray:
        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=dev.type == "cuda"):
            feats = model(preprocess(chunk, size, mean, std, dev))
        return feats.float().cpu().numpy()

    out = map_batches(run, images, batch_size, dev)
    return np.concatenate(out).astype(np.float32) if out else np.zeros((0, model.num_features), np.float32)
