"""Isolation holds and misbehaviour becomes a classified failure record, while the next cell still runs."""

from __future__ import annotations

import pytest

from harness.cells import run_cells

pytestmark = pytest.mark.docker


def failure_of(result):
    assert result.record["status"] == "failed", result.record
    return result.record["failure"]


def test_no_network(runner, fixture_cell):
    res = runner().run(fixture_cell("network"))
    failure = failure_of(res)
    assert failure["failure_class"] == "crashed"
    assert "network unreachable: isolation holds" in failure["log_excerpt"]
    assert "NETWORK REACHABLE" not in failure["log_excerpt"]


def test_input_is_read_only(runner, fixture_cell):
    failure = failure_of(runner().run(fixture_cell("write_input")))
    assert failure["failure_class"] == "crashed" and "Read-only file system" in failure["log_excerpt"]


def test_root_filesystem_is_read_only(runner, fixture_cell):
    failure = failure_of(runner().run(fixture_cell("write_rootfs")))
    assert failure["failure_class"] == "crashed" and "Read-only file system" in failure["log_excerpt"]
    assert "/opt/submission/pwned.txt" in failure["log_excerpt"]


def test_user_root_is_refused_before_running(runner, fixture_cell):
    res = runner().run(fixture_cell("introspect", user="root"))
    failure = failure_of(res)
    assert failure["failure_class"] == "refused" and "runs as root" in failure["message"]
    assert res.container_started is False


def test_privileges_are_dropped(runner, fixture_cell):
    res = runner().run(fixture_cell("introspect"))
    assert res.record["status"] == "ok", res.record.get("failure")
    log = res.record["log_excerpt"]
    assert "CapEff:\t0000000000000000" in log and "CapPrm:\t0000000000000000" in log
    assert "NoNewPrivs:\t1" in log
    assert "Uid:\t10001" in log
    assert "pids.max=512" in log
    iso = res.record["isolation"]
    assert iso["network_mode"] == "none" and iso["read_only_rootfs"] is True
    assert iso["cap_drop"] == ["ALL"] and iso["security_opt"] == ["no-new-privileges"]
    assert iso["pids_limit"] == 512 and iso["memory_bytes"] == 1024 * 2**20 and iso["nano_cpus"] == 10**9
    assert iso["user"] == "medbench" and iso["device_requests"] == []


def test_wall_clock_timeout_and_the_container_is_always_removed(runner, fixture_cell, docker_client):
    cell = fixture_cell("sleep")
    failure = failure_of(runner(timeout_s=8).run(cell))
    assert failure["failure_class"] == "timeout"
    leftovers = docker_client.containers.list(all=True, filters={"label": f"org.medbench.cell={cell.label}"})
    assert [c.name for c in leftovers] == []


def test_output_size_cap(runner, fixture_cell):
    failure = failure_of(runner(output_cap_mb=8).run(fixture_cell("big_output")))
    assert failure["failure_class"] == "output_too_large"


def test_memory_limit_is_an_oom_failure(runner, fixture_cell):
    failure = failure_of(runner(memory_gb=0.25).run(fixture_cell("oom")))
    assert failure["failure_class"] == "oom"


@pytest.mark.parametrize("mode,expected", [("nan", "NaN or infinite"), ("wrong_shape", "999 rows, expected 1000")])
def test_bad_output_is_classified_and_the_next_cell_still_runs(runner, fixture_cell, mode, expected):
    r = runner()
    bad, good = run_cells(r, [fixture_cell(mode), fixture_cell("introspect")])
    failure = failure_of(bad)
    assert failure["failure_class"] == "invalid_output" and expected in failure["message"]
    assert good.record["status"] == "ok"
    # both records are in the store, valid against the record schema
    assert r.store.get(bad.record["cache_key"])["status"] == "failed"
    assert r.store.get(good.record["cache_key"])["status"] == "ok"


def test_gpu_request_names_only_the_assigned_gpu(runner, fixture_cell, monkeypatch):
    """No GPU here: the request is captured as the engine would receive it, then dropped so the run completes."""
    from docker.models.containers import ContainerCollection

    seen = {}
    real_create = ContainerCollection.create

    def create(self, *args, **kwargs):
        seen.update(kwargs)
        return real_create(self, *args, **{**kwargs, "device_requests": None})

    monkeypatch.setattr(ContainerCollection, "create", create)
    r = runner()
    r.settings.gpu = "3"
    res = r.run(fixture_cell("introspect"))
    assert res.record["status"] == "ok", res.record.get("failure")
    (request,) = seen["device_requests"]
    assert request["DeviceIDs"] == ["3"] and request["Capabilities"] == [["gpu"]]
    assert seen["environment"]["CUDA_VISIBLE_DEVICES"] == "0"


def test_finetune_on_an_embed_only_submission_is_refused_clearly(runner, fixture_cell):
    from harness.cells import Cell
    from harness.protocols import get_protocol

    embed_only = fixture_cell("introspect")
    cell = Cell(embed_only.submission, embed_only.variant, embed_only.dataset, get_protocol("finetune"))
    failure = failure_of(runner().run(cell))
    assert failure["failure_class"] == "refused" and "does not implement finetune" in failure["message"]
