#!/usr/bin/env bash
# Run veguard's test suite in two tiers. Fast tier first (seconds to minutes, no services):
# `ruff check` (line length enforced) and the tests without the slow / postgres / browser
# markers. Then it starts the services the rest need (PostgreSQL, Chromium for the browser
# test), builds the training corpus when it is missing (the no-overlap test checks it), and
# runs only the marked tests, so nothing runs twice. Extra arguments go to both pytest runs.
# VEGUARD_FAST_ONLY=1 stops after the fast tier.
set -uo pipefail
cd "$(dirname "$0")/.."
. .venv/bin/activate

user_args=$#
pytest_tier() {
  python -m pytest -q "$@"
  local rc=$?
  if [ "$rc" -eq 5 ]; then
    # pytest's "no tests collected". With arguments (some test files) a tier may hold none of
    # them; without, each tier always has tests, so this is a broken run.
    [ "$user_args" -gt 0 ] && return 0
    echo "pytest collected no tests: treating as a failure" >&2
    return 1
  fi
  return "$rc"
}

echo "== fast tier: ruff, then tests without slow/postgres/browser markers" >&2
ruff check src tests || { echo "ruff check failed" >&2; exit 1; }
pytest_tier -m "not slow and not postgres and not browser" "$@" || exit $?
[ -n "${VEGUARD_FAST_ONLY:-}" ] && exit 0

echo "== full tier: the slow, postgres and browser tests" >&2
if [ -f scripts/ci_services.sh ] && [ -z "${VEGUARD_SKIP_SERVICES:-}" ]; then
  services=$(bash scripts/ci_services.sh) || { echo "scripts/ci_services.sh failed" >&2; exit 1; }
  eval "$services"
fi
if [ ! -f data/processed/corpus.parquet ]; then
  veguard data build || { echo "veguard data build failed" >&2; exit 1; }
fi
pytest_tier -m "slow or postgres or browser" "$@"
