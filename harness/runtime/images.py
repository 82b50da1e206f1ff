"""Building a submission's image with the docker SDK and recording its digest.

One image per (submission, variant): the variant's weights are baked in at build time, so the image
digest pins code and weights together. Build args: ``BASE_IMAGE``, ``VARIANT``, ``WEIGHTS``
(``auto`` tries the model hub and falls back to a labelled random init; ``pretrained`` requires the
hub; ``random`` never touches the network).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import docker
from docker.errors import APIError, BuildError, DockerException, ImageNotFound

from harness.errors import EngineError
from harness.submission import SubmissionSpec

DEFAULT_BASE_IMAGE = os.environ.get("MEDBENCH_BASE_IMAGE", "medbench/base:latest")
WEIGHTS_MODES = ("auto", "pretrained", "random")
ROOT_USERS = ("", "root", "0", "0:0", "root:root")


class ImageBuildFailed(Exception):
    def __init__(self, message: str, log: str):
        super().__init__(message)
        self.log = log


@dataclass(frozen=True)
class BuiltImage:
    image_id: str  # sha256:... content digest of the image config: the submission's identity
    tag: str
    user: str
    labels: dict[str, str]

    @property
    def runs_as_root(self) -> bool:
        return self.user.strip() in ROOT_USERS


def image_tag(spec: SubmissionSpec, variant: str) -> str:
    return f"medbench/sub-{spec.name}:{spec.version}-{variant}"


def _inspect(client: docker.DockerClient, tag: str) -> BuiltImage:
    image = client.images.get(tag)
    config: dict[str, Any] = image.attrs.get("Config") or {}
    return BuiltImage(image_id=image.id, tag=tag, user=config.get("User") or "", labels=config.get("Labels") or {})


def build_submission_image(
    client: docker.DockerClient,
    spec: SubmissionSpec,
    variant: str,
    base_image: str = DEFAULT_BASE_IMAGE,
    weights: str = "auto",
    log_cap: int = 20_000,
) -> BuiltImage:
    """Build (layer cache makes an unchanged rebuild take seconds) and inspect the image."""
    if weights not in WEIGHTS_MODES:
        raise ValueError(f"weights must be one of {WEIGHTS_MODES}, got {weights!r}")
    try:
        client.images.get(base_image)
    except ImageNotFound:
        raise EngineError(f"base image {base_image} is missing; build it with: bash docker/engine.sh") from None
    tag = image_tag(spec, variant)
    lines: list[str] = []
    try:
        stream = client.api.build(
            path=str(spec.folder),
            tag=tag,
            buildargs={"BASE_IMAGE": base_image, "VARIANT": variant, "WEIGHTS": weights},
            labels={"org.medbench.submission": spec.name, "org.medbench.variant": variant, "org.medbench.weights-mode": weights},
            rm=True,
            forcerm=True,
            decode=True,
            network_mode="none" if weights == "random" else None,
        )
        for chunk in stream:
            if "stream" in chunk:
                lines.append(chunk["stream"])
            if "error" in chunk:
                log = "".join(lines)[-log_cap:] + chunk["error"]
                raise ImageBuildFailed(f"build of {tag} failed: {chunk['error'].strip()}", log)
    except (BuildError, APIError) as exc:
        raise ImageBuildFailed(f"build of {tag} failed: {exc}", "".join(lines)[-log_cap:]) from None
    except DockerException as exc:
        raise EngineError(f"Docker engine error while building {tag}: {exc}") from None
    return _inspect(client, tag)
