#!/usr/bin/env bash
# One-step setup of a fresh Debian 12 machine (idempotent; seconds when everything is in place):
#   1. a virtual environment .venv with medbench and its pinned stack (torch 2.14.1 / torchvision 0.29.1);
#   2. the Docker engine (Debian's docker.io), started, and the offline medbench/base image (docker/engine.sh).
set -euo pipefail
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO_ROOT"
log() { printf '[setup] %s\n' "$*" >&2; }

PY="${MEDBENCH_BOOTSTRAP_PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  if ! "$PY" -m venv .venv 2>/dev/null; then
    log "python3 venv module missing; installing python3-venv"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
    "$PY" -m venv .venv
  fi
fi
stamp=.venv/.medbench-installed
want="$(sha256sum pyproject.toml | cut -d' ' -f1)"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  log "installing medbench and its pinned stack into .venv (torch is large: a few minutes the first time)"
  t0=$SECONDS
  .venv/bin/python -m pip install -q --disable-pip-version-check -e '.[dev]'
  echo "$want" > "$stamp"
  log "python environment ready in $((SECONDS - t0)) s"
fi
MEDBENCH_PYTHON="$REPO_ROOT/.venv/bin/python" bash docker/engine.sh
