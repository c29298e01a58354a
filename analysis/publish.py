"""The incident's GitHub body: status, signature, timeline, five whys, countermeasures, impact, fix verdict, a link back.

Pure: renders an incident's :class:`~analysis.case_file.CaseFile` (the one the Incidents page shows) as Markdown.
Every piece of user or server text is redacted (with the secrets passed in, then token shapes), then escaped, or
shown as a code span; and ``@mentions`` in it are neutralised, so publishing never pings a person or a team.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from analysis.case_file import CaseFile
from analysis.five_whys import WORD_JOINER, code, escape, to_markdown
from probes.redact import clip, printable, redact
from probes.timeutil import human_utc

#: What GitHub reads as a mention (``@user``, ``@org/team``): an ``@`` right before a name character.
_MENTION = re.compile(r"@(?=[A-Za-z0-9_-])")


def marker(incident_id: str) -> str:
    """The hidden line that identifies Pathwatch's comment for one incident."""
    return f"<!-- pathwatch:incident:{re.sub(r'[^A-Za-z0-9_.:-]', '_', incident_id)} -->"


def neutralise_mentions(text: str) -> str:
    """``@someone`` -> ``@\\u2060someone`` (a word joiner): reads the same, but GitHub notifies nobody."""
    return _MENTION.sub("@" + WORD_JOINER, text)


def _when(ts: float | None) -> str:
    return "now (open)" if ts is None else human_utc(ts)


def issue_title(case: CaseFile, secrets: Iterable[str] = ()) -> str:
    """The title of an issue opened for the incident: one printable line, redacted, without live mentions."""
    return neutralise_mentions(printable(clip(f"[Pathwatch] {case.id}: {case.signature}", 200, tuple(secrets))))


def incident_body(case: CaseFile, *, secrets: Iterable[str] = ()) -> str:
    """The Markdown body of the incident's comment (or issue), from its case file; ``secrets`` are masked wherever they appear."""
    secrets = tuple(secrets)

    def t(text: Any) -> str:
        return escape(str(text), secrets)

    def c(text: Any) -> str:
        return code(str(text), secrets)

    inc = case.incident
    iid = inc.id
    lines = [f"### Pathwatch incident {t(iid)}: {t(inc.status.upper())}", ""]
    lines.append(f"**Signature:** {t(case.signature)}")
    lines.append("")
    lines.append("**Timeline**")
    lines.append(f"- started {_when(inc.start_ts)}, ended {_when(inc.end_ts)}")
    if inc.targets:
        lines.append(f"- targets: {', '.join(t(x) for x in inc.targets)}")
    for rev in inc.revisions:
        lines.append(f"- revision {c(rev)}")
    if inc.total_runs:
        lines.append(f"- {inc.failed_runs} of {inc.total_runs} runs failed")
    if case.verdicts:
        lines += ["", "**Fix validation** (each deploy around the incident; the latest verdict last)"]
        for v in case.verdicts:
            lines.append(f"- {c(v.from_revision)} -> {c(v.to_revision)}: **{t(v.verdict)}** ({t(v.reason)})")
    lines += ["", "**Impact**", "", "| figure | value | formula |", "| --- | --- | --- |"]
    for f in case.impact.figures():
        lines.append(f"| {f.name.replace('_', ' ')} | {f.value:,.2f} {t(f.unit)} | {t(f.formula)} |")
    fw = case.five_whys
    if fw is not None and (fw.whys or fw.root_cause or fw.countermeasures):
        lines += ["", to_markdown(fw, iid, secrets).replace("## Five whys", "#### Five whys", 1).rstrip()]
    body = neutralise_mentions("\n".join(lines))
    tail = []
    if case.incident_url:
        tail += ["", f"[Open in Pathwatch]({case.incident_url})"]
    tail += ["", f"_Updated by Pathwatch at {_when(case.generated_at)}; this comment is edited in place._"]
    # A last guard over the whole body (the marker and our own words hold no secret; the pieces were redacted before escaping).
    return marker(iid) + "\n" + redact(body + "\n".join(tail), secrets) + "\n"
