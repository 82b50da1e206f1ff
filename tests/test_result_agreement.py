"""result.json must agree with the manifest: variant, embedding dimension and the declared pooling."""

from __future__ import annotations

import json

import pytest

from harness.cells import CellFailure, read_result_json
from harness.submission import load_submission


def _result(spec, pooling: str) -> dict:
    variant = spec.variants[spec.smoke_variant]
    return {
        "contract_version": 1, "kind": "embed", "submission": {"name": spec.name, "version": spec.version},
        "model": {"id": variant.model_id, "variant": spec.smoke_variant, "parameters": variant.parameters,
                  "embedding_dim": variant.embedding_dim, "input_size": 64, "pooling": pooling,
                  "normalization": variant.normalization, "weights": {"source": "random-init", "checkpoint": "x"}},
        "timings": {"load_seconds": 1.0, "compute_seconds": 1.0, "images_per_second": 1.0},
        "device": {"type": "cpu", "name": "cpu", "peak_gpu_memory_mb": None},
    }


def test_result_with_the_declared_pooling_is_accepted(tmp_path):
    spec = load_submission("mae")
    (tmp_path / "result.json").write_text(json.dumps(_result(spec, spec.pooling)))
    assert read_result_json(tmp_path, "embed", spec, spec.smoke_variant)["model"]["pooling"] == spec.pooling


def test_result_with_another_pooling_is_invalid_output(tmp_path):
    spec = load_submission("mae")
    (tmp_path / "result.json").write_text(json.dumps(_result(spec, "cls")))
    with pytest.raises(CellFailure) as err:
        read_result_json(tmp_path, "embed", spec, spec.smoke_variant)
    assert err.value.failure_class == "invalid_output" and "field 'model.pooling': 'cls', manifest declares" in err.value.message
