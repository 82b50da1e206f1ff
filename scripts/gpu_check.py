"""Embed one fixed batch with every model family's default variant and print images/s and peak memory.

For the device machine (one GPU): bf16 autocast, the default variant of each submission at its native
resolution, random-init weights unless ``--weights-dir DIR/<submission>`` holds baked ones (speed and
memory do not depend on the weight values). A Markdown table goes to stdout.

    python scripts/gpu_check.py                                   # on the GPU host
    python scripts/gpu_check.py --device cpu --variant smoke --input-size 64 --batch 2 --images 4   # dry path
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from harness.submission import available_submissions, load_submission  # noqa: E402
from medbench_models.embed import embed  # noqa: E402
from medbench_models.families import FAMILIES, get_family  # noqa: E402


def measure(name: str, variant_choice: str, device: str, input_size: int | None, batch: int, n_images: int) -> dict:
    spec = load_submission(name)
    vname = spec.default_variant if variant_choice == "default" else spec.smoke_variant
    variant = spec.variants[vname]
    family = get_family(spec.family)
    size = family.input_size(input_size or variant.native_resolution)
    torch.manual_seed(0)
    model = family.build(variant.model_id, size).to(device)
    images = np.random.default_rng(0).integers(0, 256, (n_images, size, size, 3), dtype=np.uint8)
    mean, std = variant.normalization["mean"], variant.normalization["std"]
    embed(model, images[:batch], size, mean, std, batch_size=batch, device=device)  # warm-up (kernels, autotune)
    if device == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    emb = embed(model, images, size, mean, std, batch_size=batch, device=device)
    if device == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - t0
    if emb.shape != (n_images, variant.embedding_dim) or not np.isfinite(emb).all():
        raise SystemExit(f"{name} {vname}: bad embeddings {emb.shape}, finite={np.isfinite(emb).all()}")
    peak = torch.cuda.max_memory_allocated() / 2**20 if device == "cuda" else float("nan")
    del model
    if device == "cuda":
        torch.cuda.empty_cache()
    return {"submission": name, "variant": vname, "model_id": variant.model_id, "input": size, "params_m": variant.parameters / 1e6,
            "images_per_s": n_images / seconds, "peak_mb": peak}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--variant", choices=("default", "smoke"), default="default")
    ap.add_argument("--input-size", type=int, default=None, help="override every native resolution")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--images", type=int, default=256)
    ap.add_argument("--only", action="append", default=[], help="submission name (repeatable); default: all model families")
    args = ap.parse_args(argv)
    names = args.only or [n for n in available_submissions() if load_submission(n).family in FAMILIES]
    device_name = torch.cuda.get_device_name(0) if args.device == "cuda" else "cpu"
    print(f"device: {device_name}; precision: {'bf16 autocast' if args.device == 'cuda' else 'fp32'}; batch {args.batch}; {args.images} images\n")
    print("| submission | variant | model id | input | params (M) | images/s | peak GPU memory (MiB) |")
    print("|---|---|---|---|---|---|---|")
    for name in names:
        r = measure(name, args.variant, args.device, args.input_size, args.batch, args.images)
        print(f"| {r['submission']} | {r['variant']} | {r['model_id']} | {r['input']} | {r['params_m']:.1f} | {r['images_per_s']:.1f} | {r['peak_mb']:.0f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
