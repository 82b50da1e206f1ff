"""Every model submission, in-process: its smallest variant built at low resolution from baked weights
(random init) through the same code the container runs; the embedding dimension, finiteness and
determinism; manifest agreement (pooling, parameter counts)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from harness.submission import available_submissions, load_submission
from medbench_models.families import FAMILIES, count_parameters, get_family
from medbench_models.submission import FamilySubmission
from medbench_models.weights import bake, load_manifest
from medbench_sdk.task import Dataset, Task

REPO = Path(__file__).resolve().parents[1]
MODEL_SUBMISSIONS = [n for n in available_submissions() if load_submission(n).family in FAMILIES]
LOW_RES = 64


def test_every_seed_family_has_a_submission():
    assert {load_submission(n).family for n in MODEL_SUBMISSIONS} == set(FAMILIES)


def _task(kind: str, variant: str, input_size: int | None, batch_size: int = 2) -> Task:
    dataset = Dataset("smoke", "multiclass", ["a", "b", "c"], "synthetic", 3)
    return Task(1, kind, dataset, 0, variant, input_size, 2, 300.0, batch_size, "fp32")


@pytest.fixture(scope="module", params=MODEL_SUBMISSIONS)
def loaded(request, tmp_path_factory):
    """The submission's smoke variant: random weights baked to disk, then loaded as the container does."""
    name = request.param
    folder = REPO / "submissions" / name
    weights = tmp_path_factory.mktemp(f"weights-{name}")
    spec = load_submission(name)
    info = bake(load_manifest(str(folder / "submission.yaml")), spec.smoke_variant, "random", str(weights))
    sub = FamilySubmission(str(folder / "submission.yaml"), weights_dir=str(weights))
    model_info = sub.load(_task("embed", spec.smoke_variant, LOW_RES))
    return spec, sub, model_info, info


def test_embeds_with_the_declared_dimension_finite_and_deterministic(loaded):
    spec, sub, model_info, _ = loaded
    images = np.random.default_rng(0).integers(0, 256, size=(3, 40, 40, 3), dtype=np.uint8)
    task = _task("embed", spec.smoke_variant, LOW_RES)
    first = sub.embed(task, images)
    assert first.shape == (3, spec.variants[spec.smoke_variant].embedding_dim) == (3, model_info.embedding_dim)
    assert first.dtype == np.float32 and np.isfinite(first).all()
    assert np.array_equal(first, sub.embed(task, images))  # same input, same output
    one_by_one = sub.embed(_task("embed", spec.smoke_variant, LOW_RES, batch_size=1), images)
    np.testing.assert_allclose(one_by_one, first, rtol=1e-4, atol=1e-4)  # batching does not change a row
    assert not np.allclose(first[0], first[1])  # different images, different embeddings


def test_load_reports_what_the_manifest_declares(loaded):
    spec, sub, model_info, info = loaded
    variant = spec.variants[spec.smoke_variant]
    assert model_info.pooling == spec.pooling and model_info.model_id == variant.model_id
    assert model_info.normalization_mean == variant.normalization["mean"]
    assert model_info.weights_source == info["source"] == "random-init" and "NOT the pretrained" in model_info.checkpoint
    assert "RANDOM-INIT" in model_info.notes
    assert model_info.input_size == get_family(spec.family).input_size(LOW_RES)


def test_a_variant_that_is_not_baked_is_refused(loaded):
    spec, sub, _, _ = loaded
    other = next((v for v in spec.variants if v != spec.smoke_variant), "no-such-variant")
    with pytest.raises(ValueError, match="is not baked into this image"):
        sub.load(_task("embed", other, LOW_RES))


@pytest.mark.parametrize("name", MODEL_SUBMISSIONS)
def test_manifest_parameter_counts_match_the_architectures(name):
    spec = load_submission(name)
    for vname, variant in spec.variants.items():
        counted = count_parameters(spec.family, variant.model_id, variant.native_resolution)
        assert variant.parameters == counted, f"{name} {vname}: manifest {variant.parameters}, model {counted}"


@pytest.mark.parametrize("name", MODEL_SUBMISSIONS)
def test_smallest_variant_instantiated_at_native_resolution_matches_its_manifest(name):
    spec = load_submission(name)
    smallest = min(spec.variants.values(), key=lambda v: v.parameters)
    torch.manual_seed(0)
    model = get_family(spec.family).build(smallest.model_id, smallest.native_resolution)
    assert sum(p.numel() for p in model.parameters()) == smallest.parameters
    assert model.num_features == smallest.embedding_dim


@pytest.mark.parametrize("name", MODEL_SUBMISSIONS)
def test_manifest_pooling_and_default_variant(name):
    spec = load_submission(name)
    assert spec.pooling.split()[0] == get_family(spec.family).pooling
    assert spec.default_variant in spec.variants and "finetune" in spec.kinds
    dockerfile = (REPO / "submissions" / name / "Dockerfile").read_text()
    assert f"ARG VARIANT={spec.smoke_variant}\n" in dockerfile and "medbench_models.weights" in dockerfile


def test_a_pooling_that_is_not_the_familys_is_refused(tmp_path):
    doc = load_manifest(str(REPO / "submissions" / "mae" / "submission.yaml"))
    doc["pooling"] = "cls (final-norm CLS token)"
    (tmp_path / "submission.yaml").write_text(json.dumps(doc))
    with pytest.raises(ValueError, match="does not start with mae's pooling 'patch-mean'"):
        FamilySubmission(str(tmp_path / "submission.yaml"))


def test_unknown_family_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown backbone family 'vmamba2'"):
        get_family("vmamba2")


def test_sam2_input_side_is_rounded_up_to_its_window_multiple():
    fam = get_family("sam2")
    assert [fam.input_size(s) for s in (28, 64, 65, 896)] == [32, 64, 96, 896]
    assert get_family("dinov2").input_size(56) == 56


def test_gpu_check_script_dry_path_on_cpu():
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, "scripts/gpu_check.py", "--device", "cpu", "--variant", "smoke", "--input-size", "32",
         "--batch", "2", "--images", "4", "--only", "supervised-resnet50", "--only", "sam2"],
        capture_output=True, text=True, timeout=300, cwd=REPO,
    )
    assert proc.returncode == 0, proc.stderr
    rows = [line for line in proc.stdout.splitlines() if line.startswith("| supervised-resnet50") or line.startswith("| sam2")]
    assert len(rows) == 2 and "| resnet50.a1_in1k | 32 | 23.5 |" in rows[0] and "| nan |" in rows[0]
