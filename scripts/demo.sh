#!/usr/bin/env bash
# The README's first command: install, then run the demo on the embedded default until Ctrl-C.
# The sandbox plays the golden-path-incident story (each revision ~60 s), probes run every 5 s
# from three "regions" into data/pathwatch.db, and the sandbox's own logs go to data/sandbox.log.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh runtime
mkdir -p data
# A throwaway signing secret shared by the sandbox and the probes through the environment only.
if [ -z "${PATHWATCH_JWT_SECRET:-}" ]; then
  PATHWATCH_JWT_SECRET="$(.venv/bin/python -c 'import secrets; print(secrets.token_hex(32))')"
fi
export PATHWATCH_JWT_SECRET
export PATHWATCH_DB="${PATHWATCH_DB:-data/pathwatch.db}"
pids=()
cleanup() { trap - INT TERM EXIT; kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; }
trap cleanup INT TERM EXIT
.venv/bin/python -m sandbox --port 8765 --story golden-path-incident --story-scale 0.1 --log-file data/sandbox.log &
pids+=($!)
.venv/bin/python - <<'PY'
import time, urllib.request
for _ in range(100):
    try:
        urllib.request.urlopen("http://127.0.0.1:8765/health", timeout=1); break
    except OSError:
        time.sleep(0.1)
PY
.venv/bin/python -m probes run --config demo/targets.toml --every 5 &
pids+=($!)
echo "demo: sandbox on ws://127.0.0.1:8765/ws, probes every 5 s into $PATHWATCH_DB; Ctrl-C stops everything" >&2
wait -n "${pids[@]}"
