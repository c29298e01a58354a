#!/usr/bin/env bash
# Install everything the tests need, then run them. This is the README's test command and what CI runs.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh dev
# The browser test drives a real headless Chromium (Debian package `chromium`); install it where missing.
if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "test: installing chromium for the browser test" >&2
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >/dev/null
  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    (sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >/dev/null
  else
    echo "test: chromium is missing and cannot be installed here; the browser test will be skipped (fails under CI=true)" >&2
  fi
fi
# The alerting tests run the real Alertmanager (Debian package `prometheus-alertmanager`); install it where missing.
if ! command -v prometheus-alertmanager >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "test: installing prometheus-alertmanager for the alerting tests" >&2
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus-alertmanager) >/dev/null
  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    (sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus-alertmanager) >/dev/null
  else
    echo "test: prometheus-alertmanager is missing and cannot be installed here; its tests will be skipped (fail under CI=true)" >&2
  fi
fi
.venv/bin/python -m ruff check .
# The layer rules of ../shared/ARCHITECTURE.md, as import-linter contracts in pyproject.toml.
.venv/bin/lint-imports --no-cache
# Two workers (CI has 2 cores; most tests wait on sockets and subprocesses); one file per worker keeps module fixtures shared.
exec .venv/bin/python -m pytest -n "${PATHWATCH_TEST_WORKERS:-2}" --dist loadfile "$@"
