#!/usr/bin/env bash
# medbench engine bootstrap: container engine + offline base image, idempotent.
#
#   bash docker/engine.sh            # install / start / build whatever is missing
#   bash docker/engine.sh --force    # also rebuild medbench/base even if it is up to date
#
# 1. installs Debian's docker.io and debootstrap (and curl) with apt-get when they are absent;
# 2. starts dockerd in the background when the engine does not answer on its socket and waits for it;
# 3. builds medbench/base (no registry needed) unless an up-to-date one exists:
#    "$PYTHON" -m harness.runtime.base_image ensure
#
# Env: MEDBENCH_PYTHON (default: <repo>/.venv/bin/python), MEDBENCH_HOME, MEDBENCH_DEBIAN_MIRROR
# (both read by harness/runtime/base_image.py). A second run on a ready machine takes seconds.
# Needs root (or passwordless sudo for the apt / dockerd steps; the image build itself needs root).
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO_ROOT"

PYTHON="${MEDBENCH_PYTHON:-$REPO_ROOT/.venv/bin/python}"
DOCKER_SOCK=/var/run/docker.sock
DOCKERD_LOG=/var/log/medbench-dockerd.log
WAIT_S=60

log() { printf '[engine] %s\n' "$*" >&2; }
die() { printf '[engine] ERROR: %s\n' "$*" >&2; exit 1; }

FORCE=()
for arg in "$@"; do
  case "$arg" in
    --force) FORCE=(--force) ;;
    -h|--help) sed -n '2,14p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument: $arg (only --force is accepted)" ;;
  esac
done

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO=(sudo -n); else SUDO=(false); fi
fi

# dockerd / debootstrap live in sbin, which is not on every PATH.
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"

# --- 1. packages -------------------------------------------------------------------------------
missing=()
command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
command -v curl >/dev/null 2>&1 || missing+=(curl)
# debootstrap verifies the Debian Release file with this keyring (absent on non-Debian hosts).
[ -e /usr/share/keyrings/debian-archive-keyring.gpg ] || missing+=(debian-archive-keyring)

if [ "${#missing[@]}" -gt 0 ]; then
  log "installing ${missing[*]} with apt-get"
  t0=$SECONDS
  export DEBIAN_FRONTEND=noninteractive
  "${SUDO[@]}" apt-get update -qq >/dev/null \
    || die "apt-get update failed (are the apt sources reachable?)"
  "${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
    || die "apt-get install ${missing[*]} failed"
  log "packages installed in $((SECONDS - t0)) s"
fi

# --- 2. engine ---------------------------------------------------------------------------------
engine_answers() {
  [ "$(curl -s --max-time 3 --unix-socket "$DOCKER_SOCK" http://localhost/_ping 2>/dev/null || true)" = "OK" ]
}

if ! engine_answers; then
  if [ -S "$DOCKER_SOCK" ] && [ -e /var/run/docker.pid ] \
      && kill -0 "$(cat /var/run/docker.pid 2>/dev/null || echo 0)" 2>/dev/null; then
    log "dockerd is running but not answering yet; waiting"
  else
    log "starting dockerd (log: $DOCKERD_LOG)"
    # setsid + nohup: dockerd outlives this script and its terminal.
    "${SUDO[@]}" sh -c 'setsid nohup dockerd >>"$1" 2>&1 </dev/null &' sh "$DOCKERD_LOG" \
      || die "could not start dockerd (needs root)"
  fi
  t0=$SECONDS
  until engine_answers; do
    if [ $((SECONDS - t0)) -ge "$WAIT_S" ]; then
      printf '[engine] last lines of %s:\n' "$DOCKERD_LOG" >&2
      tail -n 15 "$DOCKERD_LOG" >&2 2>/dev/null || true
      die "the docker engine did not answer on $DOCKER_SOCK within $WAIT_S s (see $DOCKERD_LOG)"
    fi
    sleep 1
  done
  log "engine up in $((SECONDS - t0)) s"
fi

# --- 3. base image -----------------------------------------------------------------------------
[ -x "$PYTHON" ] || die "python not found at $PYTHON (create the venv or set MEDBENCH_PYTHON)"
exec "$PYTHON" -m harness.runtime.base_image ensure "${FORCE[@]}"
