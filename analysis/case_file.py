"""An incident's case file: everything the Incidents page and the GitHub body show about one incident, computed once.

Pure: the incident, the runs around it, its annotation and the server's stored errors come in; one :class:`CaseFile`
goes out. ``services.case_file`` reads them from the store; ``analysis.publish`` renders the file as Markdown and the
page lays it out, so both say the same thing about the same runs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import pandas as pd

from analysis import server_logs
from analysis.deploys import Verdict, fix_validations
from analysis.five_whys import FiveWhys, Why, draft_whys
from analysis.impact import Impact
from analysis.impact import impact as impact_of
from analysis.incidents import Incident, Window, incident_runs, incident_window
from analysis.report import ReportConfig
from analysis.signatures import Signature, group_failures

#: How much time around the incident the timeline shows and the fix verdicts weigh (the revisions before and after).
CONTEXT_S = 3600.0
#: How much time around the incident the server's errors are looked for (its clock and ours differ a little).
LOG_MARGIN_S = 60.0


@dataclass(frozen=True, eq=False)
class CaseFile:
    """One incident and its evidence, as of ``generated_at``."""

    incident: Incident
    #: The incident's own runs: ``[start, end)``, an open incident ending at ``generated_at``.
    window: Window
    #: ``window`` widened by :data:`CONTEXT_S`: the timeline and the fix verdicts.
    context: Window
    #: Runs of ``context`` on the incident's targets (all targets when it names none), in time order.
    runs: pd.DataFrame
    #: Runs of ``window`` on the incident's targets: impact and signatures are computed on these.
    during: pd.DataFrame
    signatures: tuple[Signature, ...]
    impact: Impact
    #: Decided fix verdicts (no ``insufficient_data``) of the revision changes in ``context``, oldest first.
    verdicts: tuple[Verdict, ...]
    #: Stored server error rows within :data:`LOG_MARGIN_S` of ``window``, in time order.
    server_errors: tuple[dict[str, Any], ...]
    #: The server errors grouped by signature, most frequent first (``analysis.server_logs.summarise``).
    server_signatures: tuple[dict[str, Any], ...]
    #: The saved five whys, or None.
    five_whys: FiveWhys | None
    #: Whys drafted from the evidence (each marked draft): where an annotation starts when none is saved.
    drafted_whys: tuple[Why, ...]
    #: Who changed the annotation, when and what, oldest first.
    history: tuple[dict[str, str], ...]
    #: The tracking issue or comment it was published to, or None.
    github_url: str | None
    #: This incident on the dashboard (empty without a public dashboard URL).
    incident_url: str
    generated_at: float

    @property
    def id(self) -> str:
        return self.incident.id

    @property
    def signature(self) -> str:
        """The one line that names the incident (its signature, else its title)."""
        return self.incident.headline

    @property
    def runs_in_window(self) -> int:
        return len(self.during)

    @property
    def failed_in_window(self) -> int:
        return int((~self.during["ok"]).sum()) if len(self.during) else 0

    @property
    def annotation(self) -> FiveWhys:
        """What the five-whys editor starts from: the saved annotation, else the drafts."""
        return self.five_whys if self.five_whys is not None else FiveWhys(self.incident.id, list(self.drafted_whys))


def incident_link(dashboard_url: str, incident_id: str) -> str:
    """The incident on the dashboard, or "" without a public dashboard URL."""
    return f"{dashboard_url.rstrip('/')}/incidents?incident={quote(incident_id)}" if dashboard_url else ""


def build(incident: Incident, runs: pd.DataFrame, *, now: float, config: ReportConfig | None = None,
          five_whys: Mapping[str, Any] | None = None, history: Sequence[Mapping[str, str]] = (),
          server_rows: Iterable[Mapping[str, Any]] = (), github_url: str | None = None, dashboard_url: str = "",
          secrets: Iterable[str] = ()) -> CaseFile:
    """The case file from data: ``runs`` (the analysis frame) must hold every run of the context window on the
    incident's targets; ``five_whys`` is the stored annotation document; ``server_rows`` the stored server log rows
    (anything outside the log window is left out); ``secrets`` are masked in the server's text before it is parsed."""
    secrets = tuple(secrets)
    config = config or ReportConfig()
    context = incident_window(incident, now=now, margin_s=CONTEXT_S)
    shown = incident_runs(runs, incident, now=now, margin_s=CONTEXT_S)
    during = incident_runs(shown, incident, now=now)
    sigs = tuple(group_failures(during))
    verdicts = tuple(v for v in fix_validations(shown, config.fix) if v.decided)
    logs = incident_window(incident, now=now, margin_s=LOG_MARGIN_S)
    rows = tuple(sorted((dict(r) for r in server_rows if logs.contains(float(r["ts"]))), key=lambda r: r["ts"]))
    saved = FiveWhys.from_dict(dict(five_whys)) if five_whys else None
    return CaseFile(
        incident=incident, window=incident_window(incident, now=now), context=context, runs=shown, during=during, signatures=sigs,
        impact=impact_of(during, config.impact), verdicts=verdicts, server_errors=rows,
        server_signatures=tuple(server_logs.summarise(server_logs.parse_entry(r["entry"], secrets) for r in rows)),
        five_whys=saved, drafted_whys=tuple(draft_whys(incident, sigs, verdicts)), history=tuple(dict(h) for h in history),
        github_url=github_url, incident_url=incident_link(dashboard_url, incident.id), generated_at=now,
    )
