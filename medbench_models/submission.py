"""The contract, for any backbone family in ``families``: ``serve(FamilySubmission(manifest_path))``.

Reads the manifest (family, variants, pooling), loads the baked weights of the image's variant, and
implements ``embed`` (pooled features) and ``finetune`` (full fine-tuning with a linear head).
"""

from __future__ import annotations

import os
import platform

import torch

from medbench_models.embed import embed as embed_images
from medbench_models.embed import set_threads
from medbench_models.families import get_family
from medbench_models.finetune import FinetuneConfig, finetune
from medbench_models.weights import load_manifest, manifest_variant

DEFAULT_WEIGHTS_DIR = "/opt/medbench/weights"


class FamilySubmission:
    def __init__(self, manifest_path: str, weights_dir: str | None = None):
        self.manifest = load_manifest(manifest_path)
        self.name = self.manifest["name"]
        self.version = str(self.manifest["version"])
        self.family = get_family(self.manifest["family"])
        pooling = self.manifest["pooling"]
        if pooling.split()[0] != self.family.pooling:
            raise ValueError(f"{manifest_path}: pooling {pooling!r} does not start with {self.family.name}'s pooling {self.family.pooling!r}")
        self.weights_dir = weights_dir or os.environ.get("MEDBENCH_WEIGHTS_DIR", DEFAULT_WEIGHTS_DIR)
        self.device = "cuda" if torch.cuda.is_available() else "cpu"
        self.model = None

    def _weights(self, variant_name: str) -> dict:
        from medbench_sdk.serve import read_weights_info

        info = read_weights_info(os.path.join(self.weights_dir, "weights.json"))
        if info.get("variant") != variant_name:
            raise ValueError(f"variant {variant_name!r} is not baked into this image (it holds {info.get('variant')!r})")
        return info

    def load(self, task):
        from medbench_sdk import ModelInfo

        weights = self._weights(task.variant)
        variant = manifest_variant(self.manifest, task.variant)
        self.size = self.family.input_size(task.input_size or variant["native_resolution"])
        self.mean, self.std = variant["normalization"]["mean"], variant["normalization"]["std"]
        set_threads()
        self.model = self.family.build(variant["model_id"], self.size, os.path.join(self.weights_dir, "model.safetensors")).to(self.device)
        if self.device == "cuda":
            torch.cuda.reset_peak_memory_stats()
        return ModelInfo(
            model_id=variant["model_id"],
            variant=task.variant,
            parameters=sum(p.numel() for p in self.model.parameters()),
            embedding_dim=self.model.num_features,
            input_size=self.size,
            pooling=self.manifest["pooling"],
            normalization_mean=self.mean,
            normalization_std=self.std,
            weights_source=weights["source"],
            checkpoint=weights["checkpoint"],
            device=self.device,
            device_name=torch.cuda.get_device_name(0) if self.device == "cuda" else (platform.processor() or platform.machine()),
            notes="" if weights["source"] == "pretrained" else "RANDOM-INIT weights: the model hub was unreachable when this image was built",
        )

    def embed(self, task, images):
        return embed_images(self.model, images, self.size, self.mean, self.std, batch_size=task.batch_size, device=self.device)

    def finetune(self, task):
        data = {k: getattr(task, k)() for k in ("train_images", "train_labels", "val_images", "val_labels", "test_images")}
        cfg = FinetuneConfig(batch_size=task.batch_size, max_epochs=task.max_epochs, max_seconds=task.max_seconds, seed=task.seed,
                              official_metric=task.dataset.official_metric)
        return finetune(self.model, task.dataset.task_type, task.dataset.num_classes, data, self.size, self.mean, self.std, cfg, self.device)

    def peak_gpu_memory_mb(self):
        return torch.cuda.max_memory_allocated() / 2**20 if self.device == "cuda" else None
