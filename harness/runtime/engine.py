"""Connecting to the Docker engine through the docker SDK, with an actionable error."""

from __future__ import annotations

import docker
from docker.errors import DockerException

from harness.errors import EngineError


def connect(timeout: int = 600) -> docker.DockerClient:
    try:
        client = docker.from_env(timeout=timeout)
        client.ping()
    except DockerException as exc:
        raise EngineError(
            f"Docker engine not reachable ({exc}). Start it with: bash docker/engine.sh"
        ) from None
    return client


def engine_available() -> bool:
    try:
        connect(timeout=5)
    except EngineError:
        return False
    return True
