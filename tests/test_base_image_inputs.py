"""What goes into medbench/base from this checkout, and what its inputs hash covers."""

from __future__ import annotations

from harness.runtime import base_image


def test_every_package_file_goes_in_subpackages_included():
    names = {base_image._arcname(p) for p in base_image._package_files()}
    assert {"medbench_sdk/__init__.py", "medbench_models/weights.py", "medbench_models/families/__init__.py",
            "medbench_models/families/coca.py"} <= names
    assert not any("__pycache__" in n or n.endswith(".pyc") for n in names)


def test_the_inputs_hash_follows_a_subpackage_file(tmp_path, monkeypatch):
    before = base_image.inputs_hash()
    models = tmp_path / "medbench_models"
    (models / "families").mkdir(parents=True)
    sdk = tmp_path / "medbench_sdk"
    sdk.mkdir()
    (sdk / "__init__.py").write_text("")
    (models / "__init__.py").write_text("")
    (models / "families" / "x.py").write_text("A = 1\n")
    monkeypatch.setattr(base_image, "REPO_ROOT", tmp_path)
    monkeypatch.setattr(base_image, "PACKAGE_DIRS", (sdk, models))
    first = base_image.inputs_hash()
    (models / "families" / "x.py").write_text("A = 2\n")
    assert first != base_image.inputs_hash() != before
