"""Build time: bake one variant's weights into the image, and say where they came from.

``python3 -m medbench_models.weights --manifest submission.yaml --variant V --mode auto|pretrained|random --out DIR``
writes ``DIR/model.safetensors`` (the trunk's state dict, timm layout) and ``DIR/weights.json``
(``source``: ``pretrained`` or ``random-init``, the checkpoint, and why when random).
"""

from __future__ import annotations

import argparse
import json
import os

import torch
import yaml

from medbench_models.families import get_family

MODES = ("auto", "pretrained", "random")


def load_manifest(path: str) -> dict:
    with open(path, encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def manifest_variant(manifest: dict, name: str) -> dict:
    if name not in manifest["variants"]:
        raise SystemExit(f"submission.yaml: no variant {name!r} (variants: {', '.join(manifest['variants'])})")
    return manifest["variants"][name]


def bake(manifest: dict, variant_name: str, mode: str, out: str) -> dict:
    """Pretrained from the hub (``auto``/``pretrained``) or a seeded random init (``random``, or ``auto`` offline)."""
    if mode not in MODES:
        raise SystemExit(f"--mode must be one of {', '.join(MODES)}, not {mode!r}")
    variant = manifest_variant(manifest, variant_name)
    family = get_family(manifest["family"])
    model_id = variant["model_id"]
    os.makedirs(out, exist_ok=True)
    info = {"variant": variant_name, "model_id": model_id, "family": family.name, "mode": mode}
    trunk = None
    if mode in ("auto", "pretrained"):
        try:
            trunk = family.pretrained_trunk(model_id)
            info.update(source="pretrained", checkpoint=variant["checkpoint"])
        except Exception as exc:  # noqa: BLE001 - hub unreachable, gated, ...
            if mode == "pretrained":
                raise SystemExit(f"cannot download {variant['checkpoint']}: {exc}")
            info.update(reason=f"model hub unreachable at build time: {type(exc).__name__}: {str(exc)[:300]}")
    if trunk is None:
        torch.manual_seed(0)
        trunk = family.create_trunk(model_id, None)
        info.update(source="random-init", checkpoint=f"random-init (seed 0) of {model_id}; NOT the pretrained weights")
    from safetensors.torch import save_file

    save_file({k: v.contiguous() for k, v in trunk.state_dict().items()}, os.path.join(out, "model.safetensors"))
    with open(os.path.join(out, "weights.json"), "w", encoding="utf-8") as fh:
        json.dump(info, fh, indent=2)
    return info


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python3 -m medbench_models.weights")
    ap.add_argument("--manifest", required=True)
    ap.add_argument("--variant", required=True)
    ap.add_argument("--mode", choices=MODES, default="auto")
    ap.add_argument("--out", required=True)
    args = ap.parse_args(argv)
    info = bake(load_manifest(args.manifest), args.variant, args.mode, args.out)
    print(f"baked {args.variant}: {info['source']} ({info['checkpoint']})")


if __name__ == "__main__":
    main()
