"""Build ``medbench/base`` without any container registry.

The base image every Python submission builds ``FROM``: Debian bookworm (minbase) + Python 3.11 + the
pinned model stack of ``docker/base/requirements.txt`` + the ``medbench_sdk`` and ``medbench_models`` packages, running as the
unprivileged user ``medbench`` (uid/gid 10001). Nothing is pulled from a registry:

1. wheelhouse  ``pip download`` of the pinned requirements on the host (the host's pip configuration
               decides where wheels come from); cached under ``<home>/wheelhouse``.
2. rootfs      ``debootstrap --variant=minbase`` from the Debian mirror of the host's own apt sources
               (or ``MEDBENCH_DEBIAN_MIRROR``).
3. chroot      ``pip install --no-index`` of the wheelhouse inside the rootfs, the SDK copied into
               site-packages, the ``medbench`` user, ``/opt/medbench/weights``, caches removed.
4. import      the rootfs as one tar, imported through the Docker Engine API (docker SDK) with the
               image config (ENV / USER / WORKDIR / LABEL) applied as ``changes``.

The image is labelled ``org.medbench.base.inputs=<inputs_hash()>`` and tagged ``medbench/base:latest``
and ``medbench/base:<hash[:12]>``; ``ensure()`` rebuilds only when that label no longer matches.

CLI::

    python -m harness.runtime.base_image ensure [--force]
    python -m harness.runtime.base_image info

``<home>`` is ``$MEDBENCH_HOME`` or ``<repo>/.medbench``. Building needs root (debootstrap, chroot,
mount) and a running engine (``docker/engine.sh`` does both).
"""

from __future__ import annotations

import argparse
import contextlib
import glob
import hashlib
import io
import json
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Iterator

from harness.errors import MedbenchError
from harness.hashing import sha256_file
from harness.paths import medbench_home

# Bump when the recipe below changes in a way that changes the image (it is part of inputs_hash()).
BUILD_RECIPE_VERSION = "4"  # 4: subpackages of medbench_models (families/, vmamba/) are copied too

REPO_ROOT = Path(__file__).resolve().parents[2]
REQUIREMENTS = REPO_ROOT / "docker" / "base" / "requirements.txt"
SDK_DIR = REPO_ROOT / "medbench_sdk"
MODELS_DIR = REPO_ROOT / "medbench_models"
# Python packages of this repository copied into the image's site-packages (and hashed).
PACKAGE_DIRS = (SDK_DIR, MODELS_DIR)

CUDA_DOCKERFILE = REPO_ROOT / "docker" / "base" / "Dockerfile.cuda"

IMAGE_REPO = "medbench/base"
LATEST_TAG = "latest"
LATEST = f"{IMAGE_REPO}:{LATEST_TAG}"
INPUTS_LABEL = "org.medbench.base.inputs"
FLAVOUR_LABEL = "org.medbench.base.flavour"
RECIPE_LABEL = "org.medbench.base.recipe"
FLAVOUR = "debootstrap"
CUDA_TAG = f"{IMAGE_REPO}:cuda"

SUITE = "bookworm"
INCLUDE_PACKAGES = ("python3", "python3-pip", "ca-certificates")
TARGET_PYTHON = "3.11"  # bookworm's python3
TARGET_GLIBC_MINOR = 36  # bookworm's glibc 2.36
USER_NAME = "medbench"
USER_ID = 10001
USER_HOME = "/home/medbench"
SITE_PACKAGES = "usr/local/lib/python3.11/dist-packages"
WEIGHTS_DIR = "opt/medbench/weights"
CHROOT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# torch resolves (and mkdirs) its inductor cache at `import torchvision` / `import timm` time, via
# tempfile.gettempdir(), which raises on a read-only root without a writable /tmp. With the cache dir
# preset and pre-created in the image, the import works either way; the harness's tmpfs /tmp hides the
# baked (empty) directory and torch recreates it there, writable.
INDUCTOR_CACHE = "/tmp/torchinductor_medbench"

IMAGE_CHANGES = [
    f"ENV PATH={CHROOT_PATH}",
    "ENV PYTHONUNBUFFERED=1",
    "ENV PYTHONDONTWRITEBYTECODE=1",
    f"ENV HOME={USER_HOME}",
    f"ENV TORCHINDUCTOR_CACHE_DIR={INDUCTOR_CACHE}",
    f"USER {USER_NAME}",
    f"WORKDIR {USER_HOME}",
    'CMD ["python3"]',
]

WHEELHOUSE_MARKER = ".medbench-requirements.sha256"


class BuildError(MedbenchError):
    """A build step failed; the message names the step and what to look at."""


# --------------------------------------------------------------------------------------- helpers
def _progress(msg: str) -> None:
    print(f"[base] {msg}", file=sys.stderr, flush=True)


@contextlib.contextmanager
def _stage(name: str, timings: dict[str, float] | None = None) -> Iterator[None]:
    _progress(f"{name} ...")
    t0 = time.monotonic()
    yield
    dt = time.monotonic() - t0
    if timings is not None:
        timings[name] = dt
    _progress(f"{name} done in {dt:.1f} s")


def _package_files() -> list[Path]:
    """The repository's packages copied into the image (and hashed): every ``.py`` file of ``medbench_sdk``
    and ``medbench_models``, subpackages included (``medbench_models/families/``, ``medbench_models/vmamba/``)."""
    files = []
    for pkg in PACKAGE_DIRS:
        found = sorted(p for p in pkg.rglob("*.py") if "__pycache__" not in p.relative_to(pkg).parts)
        if not found:
            raise BuildError(f"no sources found in {pkg}")
        files += found
    return files


def _arcname(path: Path) -> str:
    """``medbench_models/families/base.py`` for a file of a package in ``PACKAGE_DIRS``."""
    return path.relative_to(REPO_ROOT).as_posix()


def inputs_hash() -> str:
    """sha256 over everything the image is built from: recipe version, requirements, SDK sources."""
    if not REQUIREMENTS.is_file():
        raise BuildError(f"missing {REQUIREMENTS}")
    h = hashlib.sha256()

    def add(name: str, data: bytes) -> None:
        h.update(f"{name}\0{len(data)}\0".encode())
        h.update(data)

    add("recipe", BUILD_RECIPE_VERSION.encode())
    add("requirements.txt", REQUIREMENTS.read_bytes())
    for path in _package_files():
        add(_arcname(path), path.read_bytes())
    return h.hexdigest()


def _run(cmd: list[str], what: str, log_path: Path, **kwargs) -> None:
    """Run a command with its output in ``log_path``; a failure raises BuildError with the log tail."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        log.write(f"\n$ {' '.join(map(str, cmd))}\n".encode())
        log.flush()
        try:
            rc = subprocess.call([str(c) for c in cmd], stdout=log, stderr=subprocess.STDOUT,
                                 stdin=subprocess.DEVNULL, **kwargs)
        except FileNotFoundError as e:
            raise BuildError(f"{what} failed: {e.filename} not found") from None
    if rc != 0:
        try:
            tail = log_path.read_text(errors="replace").splitlines()[-12:]
        except OSError:
            tail = []
        detail = "\n".join("    " + line for line in tail)
        raise BuildError(f"{what} failed (exit {rc}); full log: {log_path}\n{detail}")


def _which_sbin(name: str) -> str:
    found = shutil.which(name) or shutil.which(
        name, path="/usr/local/sbin:/usr/sbin:/sbin:/usr/local/bin:/usr/bin:/bin")
    if not found:
        raise BuildError(f"{name} is not installed (docker/engine.sh installs it)")
    return found


# ----------------------------------------------------------------------------- debian mirror
def _deb822_paragraphs(text: str) -> Iterator[dict[str, str]]:
    para: dict[str, str] = {}
    key = None
    for raw in text.splitlines():
        if raw.startswith("#"):
            continue
        if not raw.strip():
            if para:
                yield para
            para, key = {}, None
            continue
        if raw[0] in " \t" and key is not None:
            para[key] += " " + raw.strip()
            continue
        if ":" in raw:
            key, _, value = raw.partition(":")
            key = key.strip().lower()
            para[key] = value.strip()
    if para:
        yield para


def _one_line_entries(text: str) -> Iterator[tuple[str, str, list[str]]]:
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        line = re.sub(r"\[[^\]]*\]", " ", line)  # drop [arch=... signed-by=...] options
        parts = line.split()
        if len(parts) >= 4 and parts[0] == "deb":
            yield parts[1], parts[2], parts[3:]


def _source_entries(apt_dir: Path = Path("/etc/apt")) -> Iterator[tuple[str, str, list[str]]]:
    """(uri, suite, components) of every enabled binary source, in apt's reading order."""
    files: list[Path] = []
    if (apt_dir / "sources.list").is_file():
        files.append(apt_dir / "sources.list")
    parts_dir = apt_dir / "sources.list.d"
    if parts_dir.is_dir():
        files += sorted(p for p in parts_dir.iterdir()
                        if p.is_file() and p.suffix in (".list", ".sources"))
    for path in files:
        try:
            text = path.read_text(errors="replace")
        except OSError:
            continue
        if path.suffix == ".sources":
            for para in _deb822_paragraphs(text):
                if para.get("enabled", "yes").lower() == "no":
                    continue
                if "deb" not in para.get("types", "").split():
                    continue
                comps = para.get("components", "").split()
                for uri in para.get("uris", "").split():
                    for suite in para.get("suites", "").split():
                        yield uri, suite, comps
        else:
            yield from _one_line_entries(text)


def debian_mirror(apt_dir: Path = Path("/etc/apt")) -> str:
    """The Debian mirror to debootstrap from: ``$MEDBENCH_DEBIAN_MIRROR`` or the first http(s) URI
    in the host's apt sources that serves suite ``bookworm`` with component ``main``."""
    override = os.environ.get("MEDBENCH_DEBIAN_MIRROR", "").strip()
    if override:
        return override.rstrip("/")
    for uri, suite, comps in _source_entries(apt_dir):
        if not uri.startswith(("http://", "https://")):
            continue
        if suite != SUITE or "main" not in comps or "security" in uri:
            continue
        return uri.rstrip("/")
    raise BuildError(
        f"no http(s) Debian mirror serving {SUITE}/main found in {apt_dir}/sources.list(.d); "
        "set MEDBENCH_DEBIAN_MIRROR to one")


def _apt_proxy_env() -> dict[str, str]:
    """apt's configured http(s) proxy, as environment variables for debootstrap (which ignores apt)."""
    env: dict[str, str] = {}
    for scheme in ("http", "https"):
        var = f"{scheme}_proxy"
        if os.environ.get(var) or os.environ.get(var.upper()):
            continue
        try:
            out = subprocess.run(["apt-config", "shell", "P", f"Acquire::{scheme}::Proxy"],
                                 capture_output=True, text=True, timeout=10).stdout
        except (OSError, subprocess.SubprocessError):
            continue
        m = re.search(r"P='([^']*)'", out)
        if m and m.group(1) and m.group(1).upper() != "DIRECT":
            env[var] = m.group(1)
    return env


# ----------------------------------------------------------------------------------- mounts
def _mount_points() -> list[str]:
    try:
        with open("/proc/self/mounts") as f:
            return [line.split()[1].replace("\\040", " ") for line in f if line.strip()]
    except OSError:
        return []


def _mounts_under(root: Path) -> list[str]:
    prefix = str(root.resolve())
    return [m for m in _mount_points() if m == prefix or m.startswith(prefix + "/")]


def _umount_all_under(root: Path) -> None:
    for mnt in sorted(_mounts_under(root), key=len, reverse=True):
        if subprocess.call(["umount", mnt], stderr=subprocess.DEVNULL) != 0:
            subprocess.call(["umount", "-l", mnt], stderr=subprocess.DEVNULL)


def _remove_tree(path: Path) -> None:
    """rm -rf, but never through a mount point (a left-over /proc or bind mount)."""
    if not path.exists():
        return
    _umount_all_under(path)
    left = _mounts_under(path)
    if left:
        raise BuildError(f"refusing to delete {path}: still mounted: {', '.join(left)}")
    shutil.rmtree(path, ignore_errors=True)


@contextlib.contextmanager
def _proc_mounted(rootfs: Path) -> Iterator[None]:
    proc = rootfs / "proc"
    proc.mkdir(exist_ok=True)
    if subprocess.call(["mount", "-t", "proc", "proc", str(proc)]) != 0:
        raise BuildError(f"mounting /proc into {rootfs} failed (the build needs root)")
    try:
        yield
    finally:
        _umount_all_under(proc)


# ---------------------------------------------------------------------------------- stages
def _target_platforms() -> list[str]:
    """Wheel platform tags the image can run: bookworm has glibc 2.36 (pip does not expand PEP 600
    manylinux tags given with --platform, so list them all)."""
    arch = platform.machine()
    tags = [f"manylinux_2_{minor}_{arch}" for minor in range(TARGET_GLIBC_MINOR, 4, -1)]
    tags += [f"manylinux2014_{arch}", f"manylinux2010_{arch}", f"manylinux1_{arch}", f"linux_{arch}"]
    return tags


def _wheelhouse(home: Path) -> Path:
    """pip download of the pinned requirements (binary wheels for the image's Python)."""
    wh = home / "wheelhouse"
    marker = wh / WHEELHOUSE_MARKER
    req_hash = sha256_file(REQUIREMENTS)
    if marker.is_file() and marker.read_text().strip() == req_hash:
        _progress(f"wheelhouse up to date ({wh})")
        return wh
    if wh.exists():  # stale wheels could shadow the pinned set's dependencies
        shutil.rmtree(wh)
    wh.mkdir(parents=True)
    # resolve for the image's interpreter and glibc, not the host's
    target = ["--python-version", TARGET_PYTHON, "--implementation", "cp",
              "--abi", "cp" + TARGET_PYTHON.replace(".", "")]
    for plat in _target_platforms():
        target += ["--platform", plat]
    _run([sys.executable, "-m", "pip", "download", "--disable-pip-version-check",
          "-r", REQUIREMENTS, "-d", wh, "--only-binary=:all:", *target],
         "wheelhouse (pip download)", home / "logs" / "wheelhouse.log")
    shutil.copyfile(REQUIREMENTS, wh / "requirements.txt")
    marker.write_text(req_hash + "\n")
    return wh


def _debootstrap(rootfs: Path, home: Path) -> None:
    mirror = debian_mirror()
    _progress(f"debootstrap {SUITE} from {mirror}")
    cache = home / "debootstrap-cache"
    cache.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env.update(_apt_proxy_env())
    env["PATH"] = env.get("PATH", "") + ":/usr/local/sbin:/usr/sbin:/sbin"
    _run([_which_sbin("debootstrap"), "--variant=minbase",
          "--include=" + ",".join(INCLUDE_PACKAGES), f"--cache-dir={cache}",
          SUITE, rootfs, mirror],
         "debootstrap", home / "logs" / "debootstrap.log", env=env)


def _link_or_copy(src: str, dst: str) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def _append_line(path: Path, line: str, key: str) -> None:
    """Append ``line`` to an /etc database file unless an entry ``key:`` is already there."""
    if not path.exists():
        return
    text = path.read_text()
    if any(entry.split(":", 1)[0] == key for entry in text.splitlines()):
        return
    if text and not text.endswith("\n"):
        text += "\n"
    path.write_text(text + line + "\n")


def _chroot_install(rootfs: Path, wheelhouse: Path, home: Path) -> None:
    """Install the wheelhouse and the SDK into the rootfs, add the user, strip caches."""
    wheels = rootfs / "wheels"
    _remove_tree(wheels)
    shutil.copytree(wheelhouse, wheels, copy_function=_link_or_copy)  # hard links: instant

    site = rootfs / SITE_PACKAGES
    site.mkdir(parents=True, exist_ok=True)
    for pkg in PACKAGE_DIRS:
        _remove_tree(site / pkg.name)
        (site / pkg.name).mkdir()
    for path in _package_files():
        dest = site / _arcname(path)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, dest)
        os.chmod(dest, 0o644)

    env = {"PATH": CHROOT_PATH, "HOME": "/root", "LC_ALL": "C.UTF-8"}  # no host PIP_* leaks in
    log = home / "logs" / "chroot-pip.log"
    with _proc_mounted(rootfs):
        _run(["chroot", rootfs, "python3", "-m", "pip", "install", "--no-index",
              "--find-links", "/wheels", "--break-system-packages", "--no-cache-dir",
              "--disable-pip-version-check", "--root-user-action=ignore", "--no-warn-script-location",
              "-r", "/wheels/requirements.txt"],
             "pip install in the rootfs (chroot)", log, env=env)
        # byte-compile our packages too: containers run with a read-only root and PYTHONDONTWRITEBYTECODE
        _run(["chroot", rootfs, "python3", "-m", "compileall", "-q", *("/" + SITE_PACKAGES + "/" + p.name for p in PACKAGE_DIRS)],
             "byte-compiling medbench_sdk and medbench_models (chroot)", log, env=env)

    # unprivileged user (no useradd needed: edit the databases directly)
    etc = rootfs / "etc"
    _append_line(etc / "group", f"{USER_NAME}:x:{USER_ID}:", USER_NAME)
    _append_line(etc / "gshadow", f"{USER_NAME}:!::", USER_NAME)
    _append_line(etc / "passwd",
                 f"{USER_NAME}:x:{USER_ID}:{USER_ID}:medbench submission:{USER_HOME}:/usr/sbin/nologin",
                 USER_NAME)
    _append_line(etc / "shadow", f"{USER_NAME}:!:19000:0:99999:7:::", USER_NAME)
    user_home = rootfs / USER_HOME.lstrip("/")
    user_home.mkdir(parents=True, exist_ok=True)
    os.chown(user_home, USER_ID, USER_ID)
    os.chmod(user_home, 0o755)

    weights = rootfs / WEIGHTS_DIR
    weights.mkdir(parents=True, exist_ok=True)
    for d in (weights, weights.parent):
        os.chown(d, 0, 0)
        os.chmod(d, 0o755)

    # strip what a runtime never needs
    _remove_tree(wheels)
    for pattern in ("var/cache/apt/archives/*.deb", "var/cache/apt/archives/partial/*",
                    "var/cache/apt/*.bin", "var/lib/apt/lists/*", "var/cache/debconf/*-old",
                    "root/.cache", "tmp/*", "var/tmp/*", "var/log/*.log", "var/log/apt/*"):
        for p in glob.glob(str(rootfs / pattern)):
            pp = Path(p)
            if pp.is_dir() and not pp.is_symlink():
                _remove_tree(pp)
            else:
                pp.unlink(missing_ok=True)

    inductor = rootfs / INDUCTOR_CACHE.lstrip("/")
    inductor.mkdir(parents=True, exist_ok=True)
    os.chown(inductor, USER_ID, USER_ID)
    os.chmod(inductor, 0o700)


def _tar_rootfs(rootfs: Path, tar_path: Path, home: Path) -> None:
    if _mounts_under(rootfs):
        raise BuildError(f"{rootfs} still has mounts; not archiving it")
    _run(["tar", "--numeric-owner", "-C", rootfs, "-cf", tar_path,
          "--exclude=./proc/*", "--exclude=./sys/*", "--exclude=./dev/*", "."],
         "tar of the rootfs", home / "logs" / "tar.log")


# ----------------------------------------------------------------------------------- engine
def _client():
    try:
        import docker  # noqa: PLC0415  (keep `info`/hash usable without the SDK import cost)
    except ImportError:
        raise BuildError("the docker SDK is not installed in this Python (pip install docker)") from None
    try:
        client = docker.from_env(timeout=120)
        client.ping()
    except Exception as e:  # noqa: BLE001 - DockerException, requests errors, socket errors
        where = os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
        raise BuildError(f"docker engine not reachable at {where} ({e.__class__.__name__}); "
                         "start it with docker/engine.sh") from None
    return client


def _get_image(client, ref: str):
    import docker

    try:
        return client.images.get(ref)
    except docker.errors.ImageNotFound:
        return None


def _import(client, tar_path: Path, digest: str) -> str:
    changes = IMAGE_CHANGES + [
        f"LABEL {INPUTS_LABEL}={digest}",
        f"LABEL {FLAVOUR_LABEL}={FLAVOUR}",
        f"LABEL {RECIPE_LABEL}={BUILD_RECIPE_VERSION}",
    ]
    out = client.api.import_image_from_file(str(tar_path), repository=IMAGE_REPO,
                                            tag=digest[:12], changes=changes)
    image_id = None
    for line in str(out).splitlines():
        try:
            msg = json.loads(line)
        except ValueError:
            continue
        if msg.get("error"):
            raise BuildError(f"image import failed: {msg['error']}")
        if str(msg.get("status", "")).startswith("sha256:"):
            image_id = msg["status"]
    image = client.images.get(image_id or f"{IMAGE_REPO}:{digest[:12]}")
    if image.labels.get(INPUTS_LABEL) != digest:
        raise BuildError("image import failed: the imported image lacks its inputs label")
    image.tag(IMAGE_REPO, LATEST_TAG)
    return image.id


def _drop_stale(client, keep_id: str) -> None:
    """Untag older offline medbench/base builds (their layers stay while images built on them exist).
    Other flavours (medbench/base:cuda) are left alone."""
    import docker

    for img in client.images.list(name=IMAGE_REPO):
        if img.id == keep_id or img.labels.get(FLAVOUR_LABEL) != FLAVOUR:
            continue
        for tag in img.tags:
            if tag.startswith(IMAGE_REPO + ":"):
                try:
                    client.images.remove(tag, noprune=False)
                    _progress(f"removed stale tag {tag}")
                except docker.errors.APIError:
                    pass
    prune_untagged(client)


def prune_untagged(client) -> float:
    """Remove untagged medbench images (old bases, submission images a rebuild replaced): every base
    import is a new 6 GB layer, so without this each rebuild leaks its predecessor. Images still used by a
    tagged image or a container stay. Returns the GB reclaimed."""
    import docker

    try:
        report = client.images.prune(filters={"dangling": True, "label": FLAVOUR_LABEL})
    except docker.errors.APIError as exc:
        _progress(f"warning: could not prune untagged medbench images: {exc}")
        return 0.0
    gb = (report.get("SpaceReclaimed") or 0) / 1e9
    if report.get("ImagesDeleted"):
        _progress(f"pruned {len(report['ImagesDeleted'])} untagged medbench image layers ({gb:.1f} GB)")
    return gb


# ------------------------------------------------------------------------------------ API
def _check_space(path: Path, need_gib: float) -> None:
    free = shutil.disk_usage(path).free / 2**30
    if free < need_gib:
        _progress(f"warning: only {free:.0f} GiB free under {path}; the build needs ~{need_gib:.0f} GiB")


@contextlib.contextmanager
def _build_lock(home: Path) -> Iterator[None]:
    import fcntl

    home.mkdir(parents=True, exist_ok=True)
    with open(home / "base-image.lock", "w") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            _progress("another base build is running; waiting for it")
            fcntl.flock(f, fcntl.LOCK_EX)
        yield


def _up_to_date(client, digest: str):
    img = _get_image(client, LATEST)
    if img is not None and img.labels.get(INPUTS_LABEL) == digest:
        return img
    # a build for these inputs exists but `latest` moved: re-point it
    img = _get_image(client, f"{IMAGE_REPO}:{digest[:12]}")
    if img is not None and img.labels.get(INPUTS_LABEL) == digest:
        img.tag(IMAGE_REPO, LATEST_TAG)
        return img
    return None


def ensure(force: bool = False) -> str:
    """Return the id of an up-to-date ``medbench/base:latest``, building it first when needed."""
    digest = inputs_hash()
    client = _client()
    if not force:
        img = _up_to_date(client, digest)
        if img is not None:
            _progress(f"{LATEST} up to date ({img.short_id}, inputs {digest[:12]})")
            return img.id

    if os.geteuid() != 0:
        raise BuildError("building the base image needs root (debootstrap, chroot, mount)")
    home = medbench_home()
    with _build_lock(home):
        if not force:  # someone else may have built it while we waited
            img = _up_to_date(client, digest)
            if img is not None:
                return img.id
        return _build(client, digest, home)


def _build(client, digest: str, home: Path) -> str:
    _progress(f"building {IMAGE_REPO} (inputs {digest[:12]}, work dir {home})")
    _check_space(home, 25)
    timings: dict[str, float] = {}
    t_all = time.monotonic()
    (home / "logs").mkdir(parents=True, exist_ok=True)
    for name in ("debootstrap.log", "chroot-pip.log", "tar.log"):
        (home / "logs" / name).unlink(missing_ok=True)
    build_root = home / "build"
    build_root.mkdir(parents=True, exist_ok=True)
    for stale in build_root.iterdir():  # left by a killed build (we hold the build lock)
        _progress(f"removing stale build dir {stale}")
        _remove_tree(stale)
    work = Path(tempfile.mkdtemp(prefix="base-", dir=build_root))
    rootfs = work / "rootfs"
    tar_path = work / "rootfs.tar"
    try:
        with _stage("wheelhouse", timings):
            wheelhouse = _wheelhouse(home)
        with _stage("debootstrap", timings):
            _debootstrap(rootfs, home)
        with _stage("chroot install", timings):
            _chroot_install(rootfs, wheelhouse, home)
        with _stage("tar", timings):
            _tar_rootfs(rootfs, tar_path, home)
        _remove_tree(rootfs)  # before the import: halves the peak disk use
        with _stage("import", timings):
            image_id = _import(client, tar_path, digest)
    finally:
        _umount_all_under(work)
        _remove_tree(work)
    _drop_stale(client, image_id)
    image = client.images.get(image_id)
    size = image.attrs.get("Size", 0) / 1e9
    _progress(f"built {LATEST} = {IMAGE_REPO}:{digest[:12]} ({image.short_id}, {size:.2f} GB) in "
              f"{time.monotonic() - t_all:.0f} s ("
              + ", ".join(f"{k} {v:.0f} s" for k, v in timings.items()) + ")")
    return image_id


def _cuda_context() -> io.BytesIO:
    """The minimal build context of Dockerfile.cuda (not the whole repo with its venv and caches)."""
    members = [(CUDA_DOCKERFILE, CUDA_DOCKERFILE.relative_to(REPO_ROOT).as_posix()),
               (REQUIREMENTS, REQUIREMENTS.relative_to(REPO_ROOT).as_posix())]
    members += [(p, _arcname(p)) for p in _package_files()]
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for path, arcname in members:
            info = tar.gettarinfo(str(path), arcname=arcname)
            info.uid = info.gid = 0
            info.uname = info.gname = "root"
            info.mode = 0o644
            with open(path, "rb") as f:
                tar.addfile(info, f)
    buf.seek(0)
    return buf


def build_cuda(tag: str = CUDA_TAG, base_image: str | None = None, pull: bool = False) -> str:
    """Online build of docker/base/Dockerfile.cuda (GPU hosts; needs the registry and PyPI)."""
    if not CUDA_DOCKERFILE.is_file():
        raise BuildError(f"missing {CUDA_DOCKERFILE}")
    client = _client()
    buildargs = {"MEDBENCH_INPUTS": inputs_hash()}
    if base_image:
        buildargs["CUDA_PYTORCH_IMAGE"] = base_image
    _progress(f"building {tag} from {CUDA_DOCKERFILE.relative_to(REPO_ROOT)} "
              f"({base_image or 'default CUDA_PYTORCH_IMAGE'})")
    t0 = time.monotonic()
    image_id = None
    for chunk in client.api.build(fileobj=_cuda_context(), custom_context=True,
                                  dockerfile=CUDA_DOCKERFILE.relative_to(REPO_ROOT).as_posix(),
                                  tag=tag, buildargs=buildargs, rm=True, forcerm=True,
                                  pull=pull, decode=True):
        if "stream" in chunk and chunk["stream"].strip():
            print(chunk["stream"].rstrip(), file=sys.stderr, flush=True)
        if "error" in chunk:
            raise BuildError(f"CUDA base build failed: {chunk['error'].strip()}")
        if isinstance(chunk.get("aux"), dict) and chunk["aux"].get("ID"):
            image_id = chunk["aux"]["ID"]
    image = client.images.get(image_id or tag)
    _progress(f"built {tag} ({image.short_id}) in {time.monotonic() - t0:.0f} s")
    return image.id


def info() -> dict:
    """Tag, id, labels and size of ``medbench/base:latest`` (empty dict when absent)."""
    client = _client()
    img = _get_image(client, LATEST)
    if img is None:
        return {}
    digest = inputs_hash()
    return {
        "tag": LATEST,
        "tags": sorted(img.tags),
        "id": img.id,
        "created": img.attrs.get("Created"),
        "inputs": img.labels.get(INPUTS_LABEL),
        "flavour": img.labels.get(FLAVOUR_LABEL),
        "up_to_date": img.labels.get(INPUTS_LABEL) == digest,
        "size_bytes": img.attrs.get("Size"),
    }


# ------------------------------------------------------------------------------------ CLI
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.runtime.base_image",
                                     description="Build / inspect the registry-free medbench/base image.")
    sub = parser.add_subparsers(dest="cmd", required=True)
    p_ensure = sub.add_parser("ensure", help="build medbench/base unless an up-to-date one exists")
    p_ensure.add_argument("--force", action="store_true", help="rebuild even if up to date")
    sub.add_parser("info", help="print tag, id, label and size of medbench/base:latest")
    sub.add_parser("hash", help="print the current inputs hash")
    p_cuda = sub.add_parser("build-cuda", help="online build of Dockerfile.cuda (GPU hosts)")
    p_cuda.add_argument("--tag", default=CUDA_TAG)
    p_cuda.add_argument("--base-image", default=None, help="override ARG CUDA_PYTORCH_IMAGE")
    p_cuda.add_argument("--pull", action="store_true", help="always pull a newer base image")
    args = parser.parse_args(argv)

    def _on_sigterm(signum, frame):  # run the finally blocks (unmount /proc, remove the rootfs)
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        if args.cmd == "ensure":
            print(ensure(force=args.force))
        elif args.cmd == "hash":
            print(inputs_hash())
        elif args.cmd == "build-cuda":
            print(build_cuda(tag=args.tag, base_image=args.base_image, pull=args.pull))
        else:
            data = info()
            if not data:
                print(f"{LATEST} is not built; run docker/engine.sh", file=sys.stderr)
                return 1
            for key in ("tag", "id", "inputs", "up_to_date", "flavour", "created"):
                print(f"{key:11s} {data[key]}")
            print(f"{'tags':11s} {' '.join(data['tags'])}")
            print(f"{'size':11s} {data['size_bytes'] / 1e9:.2f} GB ({data['size_bytes']} bytes)")
    except BuildError as e:
        print(f"medbench base image: ERROR: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("medbench base image: interrupted", file=sys.stderr)
        return 130
    except Exception as e:  # noqa: BLE001 - one clear line, no traceback
        print(f"medbench base image: ERROR: {e.__class__.__name__}: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
