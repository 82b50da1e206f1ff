"""GPU path of the model code (medbench_models): bf16 autocast on CUDA. Skips where there is no GPU (CI)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU on this machine")


def test_dinov2_embeds_in_bf16_on_gpu():
    from medbench_models.embed import embed
    from medbench_models.families import get_family

    model = get_family("dinov2").build("vit_small_patch14_dinov2.lvd142m", 224).cuda()
    images = np.random.default_rng(0).integers(0, 255, (16, 64, 64, 3), dtype=np.uint8)
    emb = embed(model, images, 224, [0.485, 0.456, 0.406], [0.229, 0.224, 0.225], batch_size=8, device="cuda")
    cpu = embed(model.cpu(), images, 224, [0.485, 0.456, 0.406], [0.229, 0.224, 0.225], batch_size=8)
    assert emb.shape == (16, 384) and np.isfinite(emb).all()
    assert np.corrcoef(emb.ravel(), cpu.ravel())[0, 1] > 0.99  # bf16 agrees with fp32


def test_torch_probe_on_gpu_agrees_with_sklearn():
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score

    from harness.protocols.torch_probe import TorchLogisticProbe, default_device

    assert default_device() == "cuda"
    rng = np.random.default_rng(0)
    y = rng.integers(0, 6, 3000)
    x = (rng.normal(0, 0.2, (6, 64))[y] + rng.normal(size=(3000, 64))).astype(np.float32)
    ref = LogisticRegression(C=0.1, max_iter=1000).fit(x[:2000], y[:2000]).predict_proba(x[2000:])
    probe = TorchLogisticProbe(6, device="cuda", max_iter=1000, tol=1e-6).fit(x[:2000], y[:2000], 0.1)
    ours = probe.predict_proba(x[2000:])
    assert abs(roc_auc_score(y[2000:], ours, multi_class="ovr") - roc_auc_score(y[2000:], ref, multi_class="ovr")) < 0.005
    np.testing.assert_allclose(ours, ref, atol=5e-3)
