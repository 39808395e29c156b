#!/usr/bin/env bash
# Set up veguard on a fresh machine: a virtualenv in .venv with the package and all extras.
# torch comes in as the CPU build pinned in pyproject.toml (torch==2.13.0).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e ".[dev,bench]"
echo "veguard installed in .venv (activate with: . .venv/bin/activate)"
