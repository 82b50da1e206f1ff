"""Build-time: bake one variant's weights into the image, and say where they came from."""

import argparse
import json
import os

import torch
import timm
import yaml
from safetensors.torch import save_file


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--variant", required=True)
    ap.add_argument("--mode", choices=("auto", "pretrained", "random"), default="auto")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    with open(os.path.join(os.path.dirname(__file__), "submission.yaml")) as fh:
        manifest = yaml.safe_load(fh)
    if args.variant not in manifest["variants"]:
        raise SystemExit(f"submission.yaml: no variant {args.variant!r} (variants: {', '.join(manifest['variants'])})")
    variant = manifest["variants"][args.variant]
    model_id = variant["model_id"]
    os.makedirs(args.out, exist_ok=True)
    info = {"variant": args.variant, "model_id": model_id, "mode": args.mode}
    model = None
    if args.mode in ("auto", "pretrained"):
        try:
            model = timm.create_model(model_id, pretrained=True, num_classes=0)
            info.update(source="pretrained", checkpoint=variant["checkpoint"])
        except Exception as exc:  # noqa: BLE001 - hub unreachable, gated, ...
            if args.mode == "pretrained":
                raise SystemExit(f"cannot download {variant['checkpoint']}: {exc}")
            info.update(reason=f"model hub unreachable at build time: {type(exc).__name__}: {str(exc)[:300]}")
    if model is None:
        torch.manual_seed(0)
        model = timm.create_model(model_id, pretrained=False, num_classes=0)
        info.update(source="random-init", checkpoint=f"random-init (seed 0) of {model_id}; NOT the pretrained weights")
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    save_file(state, os.path.join(args.out, "model.safetensors"))
    with open(os.path.join(args.out, "weights.json"), "w") as fh:
        json.dump(info, fh, indent=2)
    print(f"baked {args.variant}: {info['source']} ({info['checkpoint']})")


if __name__ == "__main__":
    main()
