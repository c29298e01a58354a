"""Grafana k6 doing the same golden-path check, for side-by-side figures.

The script opens the socket with the same headers, waits for the welcome, sends start_agent and
timestamps every message with Date.now() (k6's clock: whole milliseconds). It prints one JSON line
per iteration, which the benchmarks read back.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from typing import Any

SCRIPT = r"""
import { WebSocket } from 'k6/experimental/websockets';

const URL = __ENV.PW_URL;
const TOKEN = __ENV.PW_TOKEN;

export default function () {
  const session = `k6-${__VU}-${__ITER}-${Date.now()}`;
  const t0 = Date.now();
  const times = {};
  const ws = new WebSocket(URL, null, { headers: {
    'Authorization': `Bearer ${TOKEN}`, 'X-Test-Type': 'E2E', 'X-Test-Session': session, 'X-Test-Environment': 'bench' } });
  ws.onopen = () => { times.open = Date.now(); };
  ws.onmessage = (e) => {
    const now = Date.now();
    const msg = JSON.parse(e.data);
    if (msg.type === 'connection_established') {
      times.welcome = now;
      ws.send(JSON.stringify({ type: 'start_agent', payload: { user_request: 'Probe: summarise the last 3 messages', user_id: 'k6' },
                               thread_id: session, timestamp: new Date().toISOString() }));
      times.start_agent_sent = Date.now();
    } else if (!(msg.type in times)) {
      times[msg.type] = now;
    }
    if (msg.type === 'agent_completed') {
      console.log(JSON.stringify({ session: session, t0: t0, times: times }));
      ws.close();
    }
  };
}
"""


def binary() -> str | None:
    here = Path(sys.executable).with_name("k6")
    return str(here) if here.exists() else shutil.which("k6")


def write_script(folder: Path) -> Path:
    path = folder / "golden_path.js"
    path.write_text(SCRIPT, encoding="utf-8")
    return path


def parse_output(text: str) -> list[dict[str, Any]]:
    """The JSON lines the script logged (k6 --log-format raw prints messages only)."""
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("{") and '"session"' in line:
            out.append(json.loads(line))
    return out
