"""Fixtures for the Docker tests: misbehaving test submissions and a runner on small limits."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from harness.cells import Cell, CellRunner, RunSettings
from harness.protocols import get_protocol
from harness.runtime.container import ContainerLimits
from harness.scoring.bootstrap import BootstrapConfig
from harness.store import ResultsStore
from harness.submission import load_submission

TEMPLATE = Path(__file__).resolve().parent.parent / "fixtures" / "misbehave"

pytestmark = pytest.mark.docker


def make_fixture(root: Path, mode: str, user: str = "") -> Path:
    name = f"mb-{mode.replace('_', '-')}" + ("-root" if user else "")
    folder = root / name
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(TEMPLATE / "main.py", folder / "main.py")
    for src, dst in (("Dockerfile.in", "Dockerfile"), ("submission.yaml.in", "submission.yaml")):
        text = (TEMPLATE / src).read_text().replace("@MODE@", mode).replace("@NAME@", name)
        (folder / dst).write_text(text.replace("@USER@", f"USER {user}" if user else ""))
    return folder


@pytest.fixture(scope="session")
def fixtures_root(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fixture-submissions")


@pytest.fixture(scope="session")
def fixture_cell(fixtures_root):
    def make(mode: str, user: str = "", dataset: str = "synthetic-fundus") -> Cell:
        spec = load_submission(make_fixture(fixtures_root, mode, user))
        return Cell(spec, "only", dataset, get_protocol("linear", c_grid=(0.1, 1.0)))

    return make


@pytest.fixture
def runner(docker_client, base_image, tmp_path):
    def make(**limits) -> CellRunner:
        settings = RunSettings(
            base_image=base_image,
            weights="random",
            limits=ContainerLimits(**{"timeout_s": 120, "memory_gb": 1.0, "output_cap_mb": 16, "cpus": 1.0, **limits}),
            bootstrap=BootstrapConfig(resamples=100),
        )
        return CellRunner(docker_client, ResultsStore(tmp_path / "store"), settings)

    return make
