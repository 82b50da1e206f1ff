"""GPU path of the DINOv2 submission code: bf16 autocast on CUDA. Skips where there is no GPU (CI)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch

REPO = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU on this machine")


def test_dinov2_embeds_in_bf16_on_gpu():
    spec = importlib.util.spec_from_file_location("dinov2_model", REPO / "submissions" / "dinov2" / "model.py")
    model_code = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(model_code)
    model = model_code.build("vit_small_patch14_dinov2.lvd142m", 224, None).cuda()
    images = np.random.default_rng(0).integers(0, 255, (16, 64, 64, 3), dtype=np.uint8)
    emb = model_code.embed(model, images, 224, [0.485, 0.456, 0.406], [0.229, 0.224, 0.225], batch_size=8, device="cuda")
    cpu = model_code.embed(model.cpu(), images, 224, [0.485, 0.456, 0.406], [0.229, 0.224, 0.225], batch_size=8)
    assert emb.shape == (16, 384) and np.isfinite(emb).all()
    assert np.corrcoef(emb.ravel(), cpu.ravel())[0, 1] > 0.99  # bf16 agrees with fp32
