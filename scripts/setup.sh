#!/usr/bin/env bash
# Create .venv (if missing) and install the pinned dependencies. Usage: scripts/setup.sh [runtime|dev]
set -euo pipefail
cd "$(dirname "$0")/.."
kind="${1:-runtime}"
python3 -m venv .venv
req=requirements.txt
[ "$kind" = dev ] && req=requirements-dev.txt
[ "$kind" = bench ] && req=requirements-bench.txt
.venv/bin/python -m pip install --quiet --disable-pip-version-check -r "$req" -c constraints.txt
