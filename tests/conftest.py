"""Shared fixtures. Docker and real-data tests run for real; with CI=true a missing engine, base image or
data file is a failure, never a skip."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO.parent / "shared" / "data"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def missing(reason: str) -> None:
    """Skip on a developer machine; fail in CI, where everything must be present."""
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: this is a failure, not a skip)")
    pytest.skip(reason)


@pytest.fixture(autouse=True, scope="session")
def medbench_home(tmp_path_factory) -> Path:
    """Each test session gets its own store / prepared cache / work area."""
    home = tmp_path_factory.mktemp("medbench-home")
    old = os.environ.get("MEDBENCH_HOME")
    os.environ["MEDBENCH_HOME"] = str(home)
    yield home
    if old is None:
        os.environ.pop("MEDBENCH_HOME", None)
    else:
        os.environ["MEDBENCH_HOME"] = old


@pytest.fixture(scope="session")
def retinamnist_npz() -> Path:
    path = SHARED_DATA / "retinamnist.npz"
    if not path.exists():
        missing(f"real data {path} not found")
    return path


@pytest.fixture(scope="session")
def docker_client():
    from harness.errors import EngineError
    from harness.runtime.engine import connect

    try:
        client = connect(timeout=900)
    except EngineError as exc:
        missing(f"Docker engine unavailable: {exc}")
    return client


@pytest.fixture(scope="session")
def base_image(docker_client) -> str:
    from docker.errors import ImageNotFound

    from harness.runtime.images import DEFAULT_BASE_IMAGE

    try:
        docker_client.images.get(DEFAULT_BASE_IMAGE)
    except ImageNotFound:
        missing(f"{DEFAULT_BASE_IMAGE} not built (bash docker/engine.sh builds it)")
    return DEFAULT_BASE_IMAGE


@pytest.fixture(scope="session")
def isic_sample() -> Path:
    """The real ISIC 2019 sample in its official layout (read in place, never copied into the repo)."""
    path = SHARED_DATA / "isic2019-sample"
    if not (path / "ISIC_2019_Training_GroundTruth.csv").exists():
        missing(f"real data {path} not found")
    return path


@pytest.fixture
def dataset_copy(tmp_path):
    """``dataset_copy(name)``: datasets/<name>/ copied to a temp folder (so tests freeze without touching the repo)."""
    import shutil

    from harness.datasets.spec import load_spec

    def copy(name: str):
        folder = tmp_path / "datasets" / name
        shutil.copytree(REPO / "datasets" / name, folder)
        return load_spec(folder)

    return copy
