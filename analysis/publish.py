"""The incident's GitHub body: status, signature, timeline, five whys, countermeasures, impact, fix verdict, a link back.

Pure: takes the incident and its answers, returns Markdown. Every piece of user or server text is
redacted (with the secrets passed in, then token shapes), then escaped, or shown as a code span; and
``@mentions`` in it are neutralised, so publishing never pings a person or a team.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from analysis.five_whys import WORD_JOINER, FiveWhys, code, escape, to_markdown
from analysis.impact import Impact
from probes.redact import redact

#: What GitHub reads as a mention (``@user``, ``@org/team``): an ``@`` right before a name character.
_MENTION = re.compile(r"@(?=[A-Za-z0-9_-])")


def marker(incident_id: str) -> str:
    """The hidden line that identifies Pathwatch's comment for one incident."""
    return f"<!-- pathwatch:incident:{re.sub(r'[^A-Za-z0-9_.:-]', '_', incident_id)} -->"


def neutralise_mentions(text: str) -> str:
    """``@someone`` -> ``@\\u2060someone`` (a word joiner): reads the same, but GitHub notifies nobody."""
    return _MENTION.sub("@" + WORD_JOINER, text)


def _when(ts: float | None) -> str:
    return "now (open)" if ts is None else datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M UTC")


def incident_body(incident: dict[str, Any], *, five_whys: FiveWhys | None, impact: Impact | None,
                  verdicts: Sequence[dict[str, Any]] = (), dashboard_url: str = "", generated_at: float,
                  secrets: Iterable[str] = ()) -> str:
    """The Markdown body of the incident's comment (or issue); ``secrets`` are masked wherever they appear."""
    secrets = tuple(secrets)

    def t(text: Any) -> str:
        return escape(str(text), secrets)

    def c(text: Any) -> str:
        return code(str(text), secrets)

    iid = str(incident["id"])
    lines = [f"### Pathwatch incident {t(iid)}: {t(str(incident.get('status', 'open')).upper())}", ""]
    lines.append(f"**Signature:** {t(incident.get('signature') or incident.get('title') or 'manual incident')}")
    lines.append("")
    lines.append("**Timeline**")
    lines.append(f"- started {_when(incident.get('start_ts'))}, ended {_when(incident.get('end_ts'))}")
    if incident.get("targets"):
        lines.append(f"- targets: {', '.join(t(x) for x in incident['targets'])}")
    for rev in incident.get("revisions") or []:
        lines.append(f"- revision {c(rev)}")
    if incident.get("total_runs"):
        lines.append(f"- {int(incident.get('failed_runs') or 0)} of {int(incident['total_runs'])} runs failed")
    if verdicts:
        lines += ["", "**Fix validation** (each deploy around the incident; the latest verdict last)"]
        for v in verdicts:
            lines.append(f"- {c(v['from_revision'])} -> {c(v['to_revision'])}: **{t(v['verdict'])}** ({t(v.get('reason', ''))})")
    if impact is not None:
        lines += ["", "**Impact**", "", "| figure | value | formula |", "| --- | --- | --- |"]
        for f in impact.figures():
            lines.append(f"| {f.name.replace('_', ' ')} | {f.value:,.2f} {t(f.unit)} | {t(f.formula)} |")
    if five_whys is not None and (five_whys.whys or five_whys.root_cause or five_whys.countermeasures):
        lines += ["", to_markdown(five_whys, iid, secrets).replace("## Five whys", "#### Five whys", 1).rstrip()]
    body = neutralise_mentions("\n".join(lines))
    tail = []
    if dashboard_url:
        tail += ["", f"[Open in Pathwatch]({dashboard_url.rstrip('/')}/incidents?incident={quote(iid)})"]
    tail += ["", f"_Updated by Pathwatch at {_when(generated_at)}; this comment is edited in place._"]
    # A last guard over the whole body (the marker and our own words hold no secret; the pieces were redacted before escaping).
    return marker(iid) + "\n" + redact(body + "\n".join(tail), secrets) + "\n"
