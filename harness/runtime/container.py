"""Running one contract call (``embed`` / ``finetune``) in an isolated container.

Isolation, always: no network, read-only root filesystem, the image's non-root user (root images are
refused before they run), all capabilities dropped, no-new-privileges, pids / memory / CPU limits, only
the GPU the scheduler assigned, a wall-clock timeout, an output size cap, engine-capped logs. The
container is removed whatever happens.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import docker
import requests
from docker.errors import DockerException, NotFound
from docker.types import DeviceRequest, LogConfig, Mount

from harness.errors import EngineError


@dataclass(frozen=True)
class ContainerLimits:
    memory_gb: float = 8.0
    cpus: float = float(os.cpu_count() or 1)
    pids: int = 512
    timeout_s: float = 3600.0
    output_cap_mb: float = 4096.0
    tmp_mb: int = 2048
    log_cap_bytes: int = 64_000

    def describe(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


@dataclass
class RunOutcome:
    exit_code: int | None
    wall_seconds: float
    logs: str
    timed_out: bool = False
    oom_killed: bool = False
    output_too_large: bool = False
    output_bytes: int = 0
    isolation: dict = field(default_factory=dict)  # the engine's view of the limits actually applied


def directory_bytes(path: Path) -> int:
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except FileNotFoundError:
                pass
    return total


class _OutputWatch(threading.Thread):
    """Polls /output's size on the host and kills the container past the cap."""

    def __init__(self, container, output_dir: Path, cap_bytes: int, interval: float = 0.25):
        super().__init__(daemon=True)
        self.container, self.output_dir, self.cap_bytes, self.interval = container, output_dir, cap_bytes, interval
        self.tripped = False
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.wait(self.interval):
            if directory_bytes(self.output_dir) > self.cap_bytes:
                self.tripped = True
                try:
                    self.container.kill()
                except DockerException:
                    pass
                return

    def stop(self) -> None:
        self._stop_event.set()


def _cap_logs(raw: bytes, cap: int) -> str:
    text = raw.decode("utf-8", errors="replace")
    if len(text) > cap:
        return f"[... {len(text) - cap} characters cut ...]\n" + text[-cap:]
    return text


def run_contract_call(
    client: docker.DockerClient,
    image_id: str,
    kind: str,
    input_dir: Path,
    output_dir: Path,
    file_mounts: dict[str, Path] | None = None,
    limits: ContainerLimits = ContainerLimits(),
    gpu: str | None = None,
    labels: dict[str, str] | None = None,
) -> RunOutcome:
    """``file_mounts`` maps container paths under /input to host files bind-mounted read-only."""
    output_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(output_dir, 0o777)  # the image's non-root user writes here; nothing else is writable
    mounts = [
        Mount(target="/input", source=str(input_dir.resolve()), type="bind", read_only=True),
        Mount(target="/output", source=str(output_dir.resolve()), type="bind", read_only=False),
    ]
    for target, source in (file_mounts or {}).items():
        mounts.append(Mount(target=target, source=str(Path(source).resolve()), type="bind", read_only=True))
    device_requests = [DeviceRequest(device_ids=[str(gpu)], capabilities=[["gpu"]])] if gpu is not None else None
    memory = f"{int(limits.memory_gb * 1024)}m"
    try:
        container = client.containers.create(
            image_id,
            command=[kind],
            network_mode="none",
            read_only=True,
            cap_drop=["ALL"],
            security_opt=["no-new-privileges"],
            pids_limit=limits.pids,
            mem_limit=memory,
            memswap_limit=memory,  # no swap: memory over the limit is an OOM kill, not a crawl
            nano_cpus=int(limits.cpus * 1e9),
            tmpfs={"/tmp": f"rw,nosuid,nodev,size={limits.tmp_mb}m"},
            mounts=mounts,
            device_requests=device_requests,
            environment={"MEDBENCH_KIND": kind, "CUDA_VISIBLE_DEVICES": "0" if gpu is not None else ""},
            log_config=LogConfig(type="json-file", config={"max-size": str(limits.log_cap_bytes * 4), "max-file": "1"}),
            labels={"org.medbench.kind": kind, **(labels or {})},
            detach=True,
        )
    except DockerException as exc:
        raise EngineError(f"could not create a container from {image_id}: {exc}") from None
    watch = _OutputWatch(container, output_dir, int(limits.output_cap_mb * 1024 * 1024))
    timed_out = False
    start = time.perf_counter()
    try:
        container.start()
        watch.start()
        try:
            status = container.wait(timeout=limits.timeout_s)
            exit_code = status.get("StatusCode")
        except (requests.exceptions.ReadTimeout, requests.exceptions.ConnectionError):
            timed_out = True
            container.kill()
            exit_code = container.wait(timeout=30).get("StatusCode")
        wall = time.perf_counter() - start
        watch.stop()
        inspected = client.api.inspect_container(container.id)
        state, host = inspected["State"], inspected["HostConfig"]
        logs = _cap_logs(container.logs(stdout=True, stderr=True), limits.log_cap_bytes)
        return RunOutcome(
            exit_code=exit_code,
            wall_seconds=wall,
            logs=logs,
            timed_out=timed_out,
            oom_killed=bool(state.get("OOMKilled")),
            output_too_large=watch.tripped or directory_bytes(output_dir) > limits.output_cap_mb * 1024 * 1024,
            output_bytes=directory_bytes(output_dir),
            isolation={
                "network_mode": host.get("NetworkMode"),
                "read_only_rootfs": host.get("ReadonlyRootfs"),
                "cap_drop": host.get("CapDrop") or [],
                "security_opt": host.get("SecurityOpt") or [],
                "pids_limit": host.get("PidsLimit"),
                "memory_bytes": host.get("Memory"),
                "nano_cpus": host.get("NanoCpus"),
                "user": inspected["Config"].get("User") or "",
                "device_requests": [r.get("DeviceIDs") for r in host.get("DeviceRequests") or []],
                "timeout_seconds": limits.timeout_s,
                "output_cap_mb": limits.output_cap_mb,
            },
        )
    except DockerException as exc:
        raise EngineError(f"container run of {image_id} failed in the engine: {exc}") from None
    finally:
        watch.stop()
        try:
            container.remove(force=True)
        except NotFound:
            pass
        except DockerException:
            pass
