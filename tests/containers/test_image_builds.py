"""Building submission images: a stale base image is refused with the fix; build logs are readable."""

from __future__ import annotations

import io

import pytest

from harness.errors import EngineError
from harness.runtime.base_image import INPUTS_LABEL
from harness.runtime.images import build_submission_image, clean_build_log
from harness.submission import load_submission

pytestmark = pytest.mark.docker


def test_a_base_built_from_other_sources_is_refused_with_the_rebuild_command(docker_client, base_image):
    """Same engine, a base whose inputs label says other SDK / medbench_models sources went into it."""
    tag = "medbench/test-stale-base:latest"
    dockerfile = f"FROM {base_image}\nLABEL {INPUTS_LABEL}=0123456789abcdef-stale\n".encode()
    docker_client.images.build(fileobj=io.BytesIO(dockerfile), tag=tag, rm=True, network_mode="none")
    try:
        with pytest.raises(EngineError, match=r"out of date with this checkout .*bash docker/engine.sh"):
            build_submission_image(docker_client, load_submission("baseline-histogram"), "hist16-thumb8", base_image=tag, weights="random")
    finally:
        docker_client.images.remove(tag, force=True)


def test_the_current_base_passes_the_check(docker_client, base_image):
    built = build_submission_image(docker_client, load_submission("baseline-histogram"), "hist16-thumb8", base_image=base_image, weights="random")
    assert built.image_id.startswith("sha256:") and not built.runs_as_root


def test_build_logs_lose_colour_codes_and_caret_lines():
    raw = "Step 3/5 : RUN x\n\x1b[91mTraceback (most recent call last):\n\x1b[0m    family = get(x)\n             ^^^^^^\n   ~~~^^^\nValueError: bad\n"
    assert clean_build_log(raw) == "Step 3/5 : RUN x\nTraceback (most recent call last):\n    family = get(x)\nValueError: bad\n"


def test_a_rebuild_removes_the_image_it_replaced(docker_client, base_image):
    """Each rebuild on a new base would otherwise leave an untagged image holding a whole old base."""
    from docker.errors import ImageNotFound

    spec = load_submission("baseline-histogram")
    first = build_submission_image(docker_client, spec, "hist16-thumb8", base_image=base_image, weights="random")
    second = build_submission_image(docker_client, spec, "hist16-thumb8", base_image=base_image, weights="pretrained")  # another label
    assert second.image_id != first.image_id
    with pytest.raises(ImageNotFound):
        docker_client.images.get(first.image_id)
    again = build_submission_image(docker_client, spec, "hist16-thumb8", base_image=base_image, weights="random")
    assert docker_client.images.get(again.tag).id == again.image_id


def test_untagged_medbench_images_are_pruned_and_others_kept(docker_client, base_image):
    from harness.runtime.base_image import prune_untagged

    ours = docker_client.images.build(fileobj=io.BytesIO(f"FROM {base_image}\nLABEL t=untagged-ours\n".encode()), rm=True, network_mode="none")[0]
    prune_untagged(docker_client)
    with pytest.raises(Exception):
        docker_client.images.get(ours.id)
    docker_client.images.get(base_image)  # tagged: kept
