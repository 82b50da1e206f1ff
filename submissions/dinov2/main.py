"""DINOv2 submission: contract v1 through the medbench SDK."""

import os
import platform
import sys

sys.path.insert(0, "/opt/submission")
import torch  # noqa: E402
import yaml  # noqa: E402

import model as dinov2  # noqa: E402
from medbench_sdk import ModelInfo, serve  # noqa: E402
from medbench_sdk.serve import read_weights_info  # noqa: E402

WEIGHTS_DIR = os.environ.get("MEDBENCH_WEIGHTS_DIR", "/opt/medbench/weights")
MANIFEST = os.path.join(os.path.dirname(os.path.abspath(__file__)), "submission.yaml")


class DinoV2:
    name = "dinov2"
    version = "1.0.0"

    def __init__(self):
        with open(MANIFEST) as fh:
            self.manifest = yaml.safe_load(fh)
        self.device = "cuda" if torch.cuda.is_available() else "cpu"
        self.model = None

    def load(self, task):
        weights = read_weights_info(os.path.join(WEIGHTS_DIR, "weights.json"))
        if weights.get("variant") != task.variant:
            raise ValueError(f"variant {task.variant!r} is not baked into this image (it holds {weights.get('variant')!r})")
        variant = self.manifest["variants"][task.variant]
        self.size = task.input_size or variant["native_resolution"]
        self.mean, self.std = variant["normalization"]["mean"], variant["normalization"]["std"]
        dinov2.set_threads()
        self.model = dinov2.build(variant["model_id"], self.size, os.path.join(WEIGHTS_DIR, "model.safetensors")).to(self.device)
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
        return dinov2.embed(self.model, images, self.size, self.mean, self.std, batch_size=task.batch_size, device=self.device)

    def peak_gpu_memory_mb(self):
        return torch.cuda.max_memory_allocated() / 2**20 if self.device == "cuda" else None


if __name__ == "__main__":
    sys.exit(serve(DinoV2()))
