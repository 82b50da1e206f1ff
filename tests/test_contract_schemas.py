"""Schema errors name the file and the field; valid documents pass."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from harness.contract.validation import describe_errors, validate_document
from harness.errors import SchemaError, SubmissionError
from harness.runtime.inputs import task_document
from harness.submission import available_submissions, load_submission

REPO = Path(__file__).resolve().parent.parent


def _copy_submission(tmp_path: Path, name: str = "baseline-histogram") -> Path:
    dst = tmp_path / name
    shutil.copytree(REPO / "submissions" / name, dst)
    return dst


def _edit_manifest(folder: Path, edit) -> Path:
    path = folder / "submission.yaml"
    doc = yaml.safe_load(path.read_text())
    edit(doc)
    path.write_text(yaml.safe_dump(doc))
    return path


@pytest.mark.parametrize("name", available_submissions())
def test_every_shipped_manifest_is_valid(name):
    spec = load_submission(name)
    assert spec.default_variant in spec.variants and spec.smoke_variant in spec.variants


def test_missing_field_names_file_and_field(tmp_path):
    folder = _copy_submission(tmp_path)
    path = _edit_manifest(folder, lambda d: d.pop("variants"))
    with pytest.raises(SchemaError) as err:
        load_submission(folder)
    assert str(path) in str(err.value)
    assert "field '(top level)'" in str(err.value) and "'variants' is a required property" in str(err.value)


def test_wrong_type_names_nested_field(tmp_path):
    folder = _copy_submission(tmp_path)
    _edit_manifest(folder, lambda d: d["variants"]["hist16-thumb8"].update(embedding_dim="big"))
    with pytest.raises(SchemaError) as err:
        load_submission(folder)
    assert "field 'variants.hist16-thumb8.embedding_dim'" in str(err.value)
    assert "'big' is not of type 'integer'" in str(err.value)


def test_default_variant_must_exist(tmp_path):
    folder = _copy_submission(tmp_path)
    _edit_manifest(folder, lambda d: d.update(default_variant="huge"))
    with pytest.raises(SchemaError, match="field 'default_variant': 'huge' is not one of variants"):
        load_submission(folder)


def test_name_must_match_folder(tmp_path):
    folder = _copy_submission(tmp_path)
    _edit_manifest(folder, lambda d: d.update(name="other-name"))
    with pytest.raises(SchemaError, match="must equal the folder name"):
        load_submission(folder)


def test_missing_dockerfile_is_a_clear_error(tmp_path):
    folder = _copy_submission(tmp_path)
    (folder / "Dockerfile").unlink()
    with pytest.raises(SubmissionError, match="Dockerfile: missing"):
        load_submission(folder)


def test_unparseable_yaml_names_file(tmp_path):
    folder = _copy_submission(tmp_path)
    (folder / "submission.yaml").write_text("name: [unclosed\n")
    with pytest.raises(SchemaError) as err:
        load_submission(folder)
    assert "submission.yaml" in str(err.value) and "cannot be parsed" in str(err.value)


def test_task_document_is_schema_valid_and_carries_no_labels():
    doc = task_document("embed", {"name": "x", "task_type": "binary", "class_names": ["a", "b"], "modality": "m", "original_channels": 3}, "v", None, {"images.npy": [4, 8, 8, 3]})
    assert describe_errors(doc, "task") == []
    assert "labels" not in str(doc["inputs"])


def test_task_document_rejects_bad_precision():
    with pytest.raises(SchemaError, match="field 'hints.precision'"):
        task_document("embed", {"name": "x", "task_type": "binary", "class_names": ["a", "b"], "modality": "m", "original_channels": 3}, "v", None, {}, precision="int4")


def _result(**model):
    base = {
        "contract_version": 1, "kind": "embed", "submission": {"name": "s", "version": "1"},
        "model": {"id": "m", "variant": "v", "parameters": 1, "embedding_dim": 4, "input_size": 8, "pooling": "cls",
                  "normalization": {"mean": [0, 0, 0], "std": [1, 1, 1]}, "weights": {"source": "random-init", "checkpoint": "c"}},
        "timings": {"load_seconds": 0.1, "compute_seconds": 0.2, "images_per_second": 3.0},
        "device": {"type": "cpu", "name": "x", "peak_gpu_memory_mb": None},
    }
    base["model"].update(model)
    return base


def test_result_schema_accepts_valid_and_names_bad_field():
    validate_document(_result(), "result", "result.json")
    with pytest.raises(SchemaError) as err:
        validate_document(_result(embedding_dim=0), "result", "/output/result.json")
    assert "/output/result.json" in str(err.value) and "field 'model.embedding_dim'" in str(err.value)


def test_record_schema_requires_failure_block_for_failed_records():
    record = {
        "record_version": 1, "cell": {"submission": "s", "variant": "v", "dataset": "d", "protocol": "linear"},
        "cache_key": "0" * 64, "status": "failed", "created_at": "2026-01-01T00:00:00+00:00", "timings": {},
        "provenance": {"image_id": None, "split_lock_hash": "x", "harness_version": "0", "contract_version": 1, "scoring_version": 1, "weights_source": "unknown"},
    }
    problems = describe_errors(record, "record")
    assert any("'failure' is a required property" in p for p in problems)
