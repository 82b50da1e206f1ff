"""Where medbench keeps its files: the repo's config folders and the working home."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def medbench_home() -> Path:
    """Working area (prepared caches, results store, cell work dirs); ``$MEDBENCH_HOME`` overrides."""
    home = Path(os.environ.get("MEDBENCH_HOME", REPO_ROOT / ".medbench"))
    home.mkdir(parents=True, exist_ok=True)
    return home


def datasets_dir() -> Path:
    return Path(os.environ.get("MEDBENCH_DATASETS", REPO_ROOT / "datasets"))


def submissions_dir() -> Path:
    return Path(os.environ.get("MEDBENCH_SUBMISSIONS", REPO_ROOT / "submissions"))


def leaderboard_dir() -> Path:
    return Path(os.environ.get("MEDBENCH_LEADERBOARD", REPO_ROOT / "leaderboard"))


def data_search_path() -> list[Path]:
    """Folders searched for raw dataset files, in order: ``$MEDBENCH_DATA_DIR`` (colon-separated),
    the shared data folder beside the checkout, MedMNIST's own default ``~/.medmnist``."""
    env = os.environ.get("MEDBENCH_DATA_DIR", "")
    paths = [Path(p) for p in env.split(os.pathsep) if p]
    paths += [REPO_ROOT.parent / "shared" / "data", Path.home() / ".medmnist"]
    return paths
