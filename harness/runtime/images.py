"""Building a submission's image with the docker SDK and recording its digest.

One image per (submission, variant): the variant's weights are baked in at build time, so the image
digest pins code and weights together. Build args: ``BASE_IMAGE``, ``VARIANT``, ``WEIGHTS``
(``auto`` tries the model hub and falls back to a labelled random init; ``pretrained`` requires the
hub; ``random`` never touches the network).
"""

from __future__ import annotations

import os
import re
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


_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_MARKER_LINE = re.compile(r"^[\s^~]*\^[\s^~]*$")  # Python 3.11 traceback markers under a source line


def clean_build_log(text: str) -> str:
    """A build log as a person reads it: no terminal colour codes, no traceback caret lines."""
    text = _ANSI.sub("", text)
    return "\n".join(line for line in text.splitlines() if not _MARKER_LINE.match(line)) + ("\n" if text.endswith("\n") else "")


def check_base_is_current(client: docker.DockerClient, base_image: str) -> None:
    """The default base must be built from this checkout's SDK, ``medbench_models`` and pins: a stale one
    would run old shared code under new submission folders."""
    from harness.runtime.base_image import INPUTS_LABEL, inputs_hash

    try:
        labels = client.images.get(base_image).labels or {}
    except ImageNotFound:
        raise EngineError(f"base image {base_image} is missing; build it with: bash docker/engine.sh") from None
    have, want = labels.get(INPUTS_LABEL), inputs_hash()
    if have is not None and have != want:
        raise EngineError(
            f"base image {base_image} is out of date with this checkout (built from inputs {have[:12]}, the SDK, "
            f"medbench_models and docker/base/requirements.txt now hash to {want[:12]}); rebuild it with: bash docker/engine.sh"
        )


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
    check_base_is_current(client, base_image)
    tag = image_tag(spec, variant)
    previous = _image_id(client, tag)
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
                log = clean_build_log("".join(lines))[-log_cap:] + chunk["error"]
                raise ImageBuildFailed(f"build of {tag} failed: {' '.join(chunk['error'].split())}", log)
    except (BuildError, APIError) as exc:
        raise ImageBuildFailed(f"build of {tag} failed: {exc}", clean_build_log("".join(lines))[-log_cap:]) from None
    except DockerException as exc:
        raise EngineError(f"Docker engine error while building {tag}: {exc}") from None
    built = _inspect(client, tag)
    if previous and previous != built.image_id:
        _remove_replaced(client, previous)
    return built


def _image_id(client: docker.DockerClient, tag: str) -> str | None:
    try:
        return client.images.get(tag).id
    except ImageNotFound:
        return None


def _remove_replaced(client: docker.DockerClient, image_id: str) -> None:
    """The image a rebuild replaced: untagged now, and it may hold a whole old base; gone unless in use."""
    try:
        client.images.remove(image_id, noprune=False)
    except (APIError, ImageNotFound):
        pass  # still used by a container or another tag: it stays
