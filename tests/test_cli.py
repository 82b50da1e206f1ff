"""The CLI reports user errors in one clear message, never a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def medbench(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "harness.cli", *args], capture_output=True, text=True, timeout=300, cwd=REPO)


def test_help_lists_the_verbs():
    proc = medbench("--help")
    assert proc.returncode == 0
    for verb in ("validate", "run", "leaderboard", "demo", "datasets", "engine"):
        assert verb in proc.stdout


def test_verify_names_the_changed_file_without_traceback(tmp_path, retinamnist_npz):
    data = bytearray(retinamnist_npz.read_bytes())
    data[1000] ^= 0x01
    (tmp_path / "retinamnist.npz").write_bytes(bytes(data))
    proc = medbench("datasets", "verify", "retinamnist", "--data", str(tmp_path))
    assert proc.returncode == 1
    assert "changed" in proc.stderr and str(tmp_path / "retinamnist.npz") in proc.stderr.replace("\n", "")
    assert "Traceback" not in proc.stderr + proc.stdout


def test_verify_accepts_the_real_file(retinamnist_npz):
    proc = medbench("datasets", "verify", "retinamnist", "--data", str(retinamnist_npz))
    assert proc.returncode == 0 and "matches its lock" in proc.stdout


def test_unknown_dataset_and_submission_are_clear_errors():
    proc = medbench("datasets", "prepare", "no-such-dataset")
    assert proc.returncode == 1 and "no dataset 'no-such-dataset'" in proc.stderr and "Traceback" not in proc.stderr
    proc = medbench("run", "-s", "no-such-submission")
    assert proc.returncode == 1 and "no such submission folder" in proc.stderr and "Traceback" not in proc.stderr
