#!/usr/bin/env bash
# Run veguard's test suite: starts the services the tests need (PostgreSQL, Chromium for the
# browser test), builds the training corpus when it is missing (the no-overlap test checks it),
# then runs pytest. Extra arguments go to pytest.
set -uo pipefail
cd "$(dirname "$0")/.."
. .venv/bin/activate
if [ -f scripts/ci_services.sh ] && [ -z "${VEGUARD_SKIP_SERVICES:-}" ]; then
  services=$(bash scripts/ci_services.sh) || { echo "scripts/ci_services.sh failed" >&2; exit 1; }
  eval "$services"
fi
if [ ! -f data/processed/corpus.parquet ]; then
  veguard data build || { echo "veguard data build failed" >&2; exit 1; }
fi
python -m pytest -q "$@"
rc=$?
if [ "$rc" -eq 5 ]; then
  # pytest's "no tests collected": this project always has tests, so this is a broken run.
  echo "pytest collected no tests: treating as a failure" >&2
  exit 1
fi
exit "$rc"
