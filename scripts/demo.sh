#!/usr/bin/env bash
# The README's first command: install, then run the whole demo on the embedded default until Ctrl-C.
# The sandbox plays the golden-path-incident story (each revision ~60 s: healthy, the 1011 crash, the
# silent-stall "fix", the real fix), probes run every 5 s from three "regions" into data/pathwatch.db,
# incident detection runs every 10 s, and the dashboard serves http://127.0.0.1:8501.
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
export PATHWATCH_SETTINGS="${PATHWATCH_SETTINGS:-demo/settings.toml}"
export PATHWATCH_SERVER_LOG="${PATHWATCH_SERVER_LOG:-data/sandbox.log}"
PORT="${PATHWATCH_DASHBOARD_PORT:-8501}"
pids=()
cleanup() { trap - INT TERM EXIT; kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; }
trap cleanup INT TERM EXIT
.venv/bin/python -m sandbox --port 8765 --story golden-path-incident --story-scale 0.1 --log-file "$PATHWATCH_SERVER_LOG" &
pids+=($!)
.venv/bin/python - <<'PY'
import time, urllib.request
for _ in range(100):
    try:
        urllib.request.urlopen("http://127.0.0.1:8765/health", timeout=1); break
    except OSError:
        time.sleep(0.1)
PY
.venv/bin/python -m probes run --config demo/targets.toml --every 5 --quiet &
pids+=($!)
( while true; do .venv/bin/python -m analysis incidents detect >/dev/null || true; sleep 10; done ) &
pids+=($!)
.venv/bin/python -m streamlit run app.py --server.port "$PORT" --server.address 127.0.0.1 --server.headless true \
  --browser.gatherUsageStats false &
pids+=($!)
echo "demo: dashboard on http://127.0.0.1:$PORT · sandbox on ws://127.0.0.1:8765/ws · store $PATHWATCH_DB; Ctrl-C stops everything" >&2
wait -n "${pids[@]}"
