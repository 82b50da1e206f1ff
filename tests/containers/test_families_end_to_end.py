"""Two more backbone families (SAM2.1 Hiera, MAE) and a fine-tuning family container, for real: built
from medbench/base + medbench_models, run isolated on real RetinaMNIST through `medbench run`, scored."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness.submission import load_submission

pytestmark = pytest.mark.docker
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("families-home")  # a store of its own: other modules count their records


def medbench(home: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "200", "MEDBENCH_HOME": str(home)}
    return subprocess.run([sys.executable, "-m", "harness.cli", *args], capture_output=True, text=True, timeout=1800, env=env, cwd=REPO)


def records(home: Path) -> dict[tuple[str, str], dict]:
    out = {}
    for path in sorted((home / "results" / "records").rglob("*.json")):
        rec = json.loads(path.read_text())
        out[(rec["cell"]["submission"], rec["cell"]["protocol"])] = rec
    return out


def test_sam2_and_mae_embed_in_containers_and_are_scored(home, base_image, retinamnist_npz):
    proc = medbench(home, "run", "-s", "sam2", "-s", "mae", "--smoke", "--input-size", "64", "--weights", "random",
                    "-d", "retinamnist", "--resamples", "200")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    recs = records(home)
    for name, dim in (("sam2", 768), ("mae", 768)):
        rec = recs[(name, "linear")]
        assert rec["status"] == "ok", rec.get("failure")
        assert rec["model"]["embedding_dim"] == dim and rec["model"]["input_size"] == 64
        assert rec["model"]["pooling"] == load_submission(name).pooling  # declared, used and recorded
        assert rec["provenance"]["weights_source"] == "random-init"
        assert rec["n_test"] == 400 and 0.0 <= rec["metrics"]["auroc"]["value"] <= 1.0
    assert recs[("sam2", "linear")]["provenance"]["image_id"] != recs[("mae", "linear")]["provenance"]["image_id"]


def test_supervised_baseline_finetunes_in_a_container(home, base_image, retinamnist_npz):
    proc = medbench(home, "run", "-s", "supervised-resnet50", "--protocol", "finetune", "--max-epochs", "1",
                    "--input-size", "32", "--weights", "random", "-d", "retinamnist", "--resamples", "200")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rec = records(home)[("supervised-resnet50", "finetune")]
    assert rec["status"] == "ok", rec.get("failure")
    assert rec["n_test"] == 400 and rec["model"]["pooling"].startswith("avg")
    chosen = rec["protocol_choices"]["container"]
    assert chosen["best_epoch"] == 1 and chosen["epochs_run"] == 1 and chosen["selection_metric"] == "auroc"  # RetinaMNIST's official metric (task.json), not the ordinal default QWK
