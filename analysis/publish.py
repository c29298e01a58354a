"""The incident's GitHub body: status, signature, timeline, five whys, countermeasures, impact, fix verdict, a link back.

Pure: takes the incident and its answers, returns Markdown. Every piece of user or server text is
escaped, and the result is passed through the secret redactor as a last guard.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from analysis.five_whys import FiveWhys, escape, to_markdown
from analysis.impact import Impact
from probes.redact import redact


def marker(incident_id: str) -> str:
    """The hidden line that identifies Pathwatch's comment for one incident."""
    return f"<!-- pathwatch:incident:{re.sub(r'[^A-Za-z0-9_.:-]', '_', incident_id)} -->"


def _when(ts: float | None) -> str:
    return "now (open)" if ts is None else datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M UTC")


def incident_body(incident: dict[str, Any], *, five_whys: FiveWhys | None, impact: Impact | None,
                  verdicts: Sequence[dict[str, Any]] = (), dashboard_url: str = "", generated_at: float) -> str:
    iid = str(incident["id"])
    lines = [marker(iid), f"### Pathwatch incident {escape(iid)}: {escape(str(incident.get('status', 'open')).upper())}", ""]
    lines.append(f"**Signature:** {escape(str(incident.get('signature') or incident.get('title') or 'manual incident'))}")
    lines.append("")
    lines.append("**Timeline**")
    lines.append(f"- started {_when(incident.get('start_ts'))}, ended {_when(incident.get('end_ts'))}")
    if incident.get("targets"):
        lines.append(f"- targets: {', '.join(escape(str(t)) for t in incident['targets'])}")
    for rev in incident.get("revisions") or []:
        lines.append(f"- revision `{escape(str(rev))}`")
    if incident.get("total_runs"):
        lines.append(f"- {incident.get('failed_runs', 0)} of {incident['total_runs']} runs failed")
    if verdicts:
        lines += ["", "**Fix validation** (each deploy around the incident; the latest verdict last)"]
        for v in verdicts:
            lines.append(f"- `{escape(str(v['from_revision']))}` -> `{escape(str(v['to_revision']))}`: "
                         f"**{escape(str(v['verdict']))}** ({escape(str(v.get('reason', '')))})")
    if impact is not None:
        lines += ["", "**Impact**", "", "| figure | value | formula |", "| --- | --- | --- |"]
        for f in impact.figures():
            lines.append(f"| {f.name.replace('_', ' ')} | {f.value:,.2f} {escape(f.unit)} | {escape(f.formula)} |")
    if five_whys is not None and (five_whys.whys or five_whys.root_cause or five_whys.countermeasures):
        lines += ["", to_markdown(five_whys, iid).replace("## Five whys", "#### Five whys", 1).rstrip()]
    if dashboard_url:
        lines += ["", f"[Open in Pathwatch]({dashboard_url.rstrip('/')}/incidents?incident={quote(iid)})"]
    lines += ["", f"_Updated by Pathwatch at {_when(generated_at)}; this comment is edited in place._"]
    return redact("\n".join(lines) + "\n")
