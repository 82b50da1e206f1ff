"""DINOv2 model code shared by the container and the in-process benchmark: build, preprocess, embed."""

from __future__ import annotations

import os

import numpy as np
import torch
import torch.nn.functional as F
import timm


def build(model_id: str, input_size: int, weights_file: str | None) -> torch.nn.Module:
    """timm model at ``input_size`` (position embeddings resampled on load), classifier removed."""
    kwargs = dict(img_size=input_size, num_classes=0)
    if weights_file:
        model = timm.create_model(model_id, pretrained=True, pretrained_cfg_overlay=dict(file=weights_file), **kwargs)
    else:
        model = timm.create_model(model_id, pretrained=False, **kwargs)
    return model.eval()


def preprocess(batch: np.ndarray, size: int, mean, std, device: torch.device) -> torch.Tensor:
    x = torch.from_numpy(np.array(batch, dtype=np.uint8, copy=True)).to(device).permute(0, 3, 1, 2).float().div_(255.0)
    if x.shape[-2:] != (size, size):
        x = F.interpolate(x, size=(size, size), mode="bicubic", align_corners=False, antialias=True).clamp_(0, 1)
    m = torch.tensor(mean, device=device).view(1, 3, 1, 1)
    s = torch.tensor(std, device=device).view(1, 3, 1, 1)
    return (x - m) / s


@torch.inference_mode()
def embed(model: torch.nn.Module, images: np.ndarray, size: int, mean, std, batch_size: int = 64, device: str = "cpu") -> np.ndarray:
    dev = torch.device(device)
    use_bf16 = dev.type == "cuda"
    out = []
    start = 0
    while start < len(images):
        chunk = images[start : start + batch_size]
        try:
            with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=use_bf16):
                feats = model(preprocess(chunk, size, mean, std, dev))
        except torch.OutOfMemoryError:
            if batch_size == 1:
                raise
            batch_size = max(1, batch_size // 2)  # memory-aware: halve and retry this chunk
            torch.cuda.empty_cache()
            continue
        out.append(feats.float().cpu().numpy())
        start += len(chunk)
    dim = model.num_features
    return np.concatenate(out).astype(np.float32) if out else np.zeros((0, dim), np.float32)


def set_threads() -> None:
    torch.set_num_threads(max(1, len(os.sched_getaffinity(0))))
