"""The summary report: every answer the CLI and the pages show, as one plain dict."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from analysis import deploys, failures, impact, incidents, latency, signatures, slo
from probes.timeutil import iso


@dataclass(frozen=True)
class ReportConfig:
    slo: slo.SLOConfig = field(default_factory=slo.SLOConfig)
    impact: impact.ImpactConfig = field(default_factory=impact.ImpactConfig)
    incidents: incidents.IncidentRule = field(default_factory=incidents.IncidentRule)
    fix: deploys.FixRule = field(default_factory=deploys.FixRule)


def incident_summary(inc: incidents.Incident, df: pd.DataFrame, config: ReportConfig, *, now: float) -> dict[str, Any]:
    """An incident with its impact, computed on the runs of its window and targets."""
    runs = incidents.incident_runs(df, inc, now=now)
    d = inc.to_doc()
    d.update(start=iso(inc.start_ts), end=iso(inc.end_ts), runs=inc.total_runs, impact=impact.impact(runs, config.impact).to_dict())
    return d


def build(df: pd.DataFrame, *, now: float, since_s: float | None = None, config: ReportConfig = ReportConfig(),
          stored_incidents: Sequence[incidents.Incident] = (), manual_deploys: Sequence[tuple[str, float]] = (),
          measured: pd.DataFrame | None = None, exclusion: str | None = None) -> dict[str, Any]:
    """Every answer of the report. ``measured``: the runs the SLO and impact are measured on (default ``df``; without the
    silenced windows when ``[alerting] exclude_silences`` is on), and ``exclusion`` the sentence that says which."""
    measured = df if measured is None else measured
    rate = failures.success_rate(df)
    sigs = signatures.group_failures(df)
    detected = incidents.detect(df, config.incidents, config.slo, complete_from=now - since_s if since_s else None)
    detected_ids = {i.id for i in detected}
    extra = [i.to_doc() for i in stored_incidents if i.id not in detected_ids and i.kind == "manual"]
    status = slo.status(measured, config.slo, now)
    imp = impact.impact(measured, config.impact)
    return {
        "generated_at": iso(now),
        "since": iso(now - since_s) if since_s else None,
        "runs": len(df),
        "targets": sorted(df["target"].unique().tolist()),
        "success_rate": rate.value,
        "success_rate_interval": [rate.low, rate.high],
        "phases": latency.phase_summary(df),
        "outcomes": failures.outcome_counts(df),
        "close_codes": failures.counts(df, "close_code"),
        "failed_phases": failures.counts(df, "failed_phase"),
        "time_to_failure_ms": failures.time_to_failure(df),
        "signatures": [s.to_dict() | {"sentence": signatures.sentence(s)} for s in sigs],
        "incidents": [incident_summary(i, df, config, now=now) for i in detected] + extra,
        "revisions": [
            {"revision": r.revision, "runs": r.runs, "success_rate": r.success_rate, "first_seen": iso(r.first_seen), "last_seen": iso(r.last_seen),
             "dominant_outcome": r.dominant_outcome, "dominant_failure_mode": r.dominant_failure_mode}
            for r in deploys.revision_stats(df, manual_deploys)
        ],
        "fix_validations": [
            {"from_revision": v.from_revision, "to_revision": v.to_revision, "at": iso(v.at), "verdict": v.verdict, "p_value": v.p_value,
             "before": v.before, "after": v.after, "reason": v.reason}
            for v in deploys.fix_validations(df, config.fix)
        ],
        "slo": {
            "objective": status.objective, "threshold_s": status.threshold_s, "window_s": status.window_s, "events": status.events,
            "good_events": status.good_events, "compliance": status.compliance, "budget_consumed": status.budget_consumed,
            "budget_remaining": status.budget_remaining,
            "alerts": [{"long_s": a.alert.long_s, "short_s": a.alert.short_s, "factor": a.alert.factor, "severity": a.alert.severity,
                        "long_burn": a.long_burn, "short_burn": a.short_burn, "firing": a.firing} for a in status.alerts],
        },
        "impact": imp.to_dict() | {"sentence": impact.plain_sentence(imp, "in this period")},
        "silences": exclusion,
    }


def to_text(report: dict[str, Any]) -> str:
    """The report for people: the answers first, the detail after."""
    lines = [f"Pathwatch report, {report['generated_at']} ({report['runs']} runs" + (f" since {report['since']})" if report["since"] else ")")]
    if not report["runs"]:
        return lines[0] + "\nNo runs in the store yet: start probes with `python -m probes run --url ws://.../ws`.\n"
    sr = report["success_rate"]
    lines.append(f"Golden path success: {sr:.1%}" + (" (interval {:.1%}-{:.1%})".format(*report["success_rate_interval"]) if report["success_rate_interval"][0] is not None else ""))
    lines.append(report["impact"]["sentence"])
    if report.get("silences"):
        lines.append(report["silences"])
    for inc in report["incidents"]:
        lines.append(f"Incident {inc['id']} [{inc.get('status')}] {inc.get('start')} -> {inc.get('end') or 'now'}: {inc.get('signature')}")
    lines.append("Deploys:")
    for v in report["fix_validations"]:
        flag = "  <-- " if v["verdict"] in ("failure_mode_changed", "not_fixed", "regressed") else "      "
        lines.append(f"{flag}{v['from_revision']} -> {v['to_revision']}: {v['verdict']} ({v['reason']})")
    lines.append("Top failure signatures:")
    for s in report["signatures"][:5]:
        lines.append(f"  {s['sentence']}")
    lines.append("Phase latency (ms): phase p50 p95 p99 count")
    for phase, p in report["phases"].items():
        if p["count"]:
            lines.append(f"  {phase:<16} {p['p50']:9.1f} {p['p95']:9.1f} {p['p99']:9.1f} {p['count']:7d}")
    return "\n".join(lines) + "\n"
