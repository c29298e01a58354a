"""Deploys: the revision timeline, per-revision statistics, and a verdict on every revision change.

A fix is ``fixed`` only if the golden path completes after it, not merely if the
old error stopped: when 1011 gives way to silence, the verdict is
``failure_mode_changed``, the trap of the motivating incident.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import pandas as pd

from analysis.stats import fisher_exact, wilson

VERDICTS = ("fixed", "not_fixed", "failure_mode_changed", "regressed", "insufficient_data")


@dataclass(frozen=True)
class RevisionStats:
    revision: str
    runs: int
    successes: int
    success_rate: float | None
    success_low: float | None
    success_high: float | None
    first_seen: float
    last_seen: float
    dominant_outcome: str
    dominant_failure_mode: str | None


@dataclass(frozen=True)
class FixRule:
    alpha: float = 0.05
    min_runs: int = 10
    #: The golden path "completes" after a change when at least this share of runs succeed.
    healthy_rate: float = 0.95
    #: The old failure mode counts as gone when under this share of the new failures.
    vanished_share: float = 0.10


@dataclass(frozen=True)
class Verdict:
    """The judgement on one revision change: was the golden path restored (``fixed``), or did the failure only change?"""

    from_revision: str
    to_revision: str
    at: float
    verdict: str
    p_value: float | None
    #: One side's numbers as shown: runs, failures, success_rate, dominant_failure_mode.
    before: dict[str, object]
    after: dict[str, object]
    reason: str

    @property
    def decided(self) -> bool:
        """Whether there was enough data to judge (everything but ``insufficient_data``)."""
        return self.verdict != "insufficient_data"

    def to_dict(self) -> dict[str, object]:
        return {"from_revision": self.from_revision, "to_revision": self.to_revision, "at": self.at, "verdict": self.verdict,
                "p_value": self.p_value, "before": dict(self.before), "after": dict(self.after), "reason": self.reason}


#: The name older callers use.
FixValidation = Verdict


def failure_mode(row_outcome: str, phase: object, code: object) -> str:
    """What 'the same failure' means across a deploy: outcome, phase and close code."""
    p = "-" if phase is None or pd.isna(phase) else str(phase)
    c = "-" if code is None or pd.isna(code) else str(int(code))  # type: ignore[call-overload]
    return f"{row_outcome}/{p}/{c}"


def _modes(df: pd.DataFrame) -> pd.Series:
    failed = df[~df["ok"]]
    return pd.Series([failure_mode(o, p, c) for o, p, c in zip(failed["outcome"], failed["failed_phase"], failed["close_code"], strict=True)], dtype="object")


def revision_stats(df: pd.DataFrame, manual: Iterable[tuple[str, float]] = ()) -> list[RevisionStats]:
    """One entry per revision in order of first appearance (manual deploy entries may move it earlier)."""
    first_manual = {}
    for rev, ts in manual:
        first_manual[rev] = min(ts, first_manual.get(rev, ts))
    known = df[df["revision"].notna()]
    out = []
    for rev, g in known.groupby("revision", sort=False):
        modes = _modes(g)
        rate = wilson(int(g["ok"].sum()), len(g))
        first = float(g["started_ts"].min())
        out.append(RevisionStats(
            revision=str(rev), runs=len(g), successes=rate.successes, success_rate=rate.value, success_low=rate.low,
            success_high=rate.high, first_seen=min(first, first_manual.get(str(rev), first)), last_seen=float(g["started_ts"].max()),
            dominant_outcome=str(g["outcome"].mode().iloc[0]), dominant_failure_mode=str(modes.mode().iloc[0]) if len(modes) else None,
        ))
    for rev, ts in first_manual.items():
        if rev not in {r.revision for r in out}:
            out.append(RevisionStats(rev, 0, 0, None, None, None, ts, ts, "none", None))
    return sorted(out, key=lambda r: r.first_seen)


@dataclass(frozen=True)
class SideCounts:
    """One side of a deploy: runs, failures, and failures per failure mode (all a verdict needs)."""

    runs: int
    failures: int
    modes: dict[str, int]

    @property
    def dominant_mode(self) -> str | None:
        return min(self.modes, key=lambda m: (-self.modes[m], m)) if self.modes else None


def side_counts(df: pd.DataFrame) -> SideCounts:
    modes = _modes(df).value_counts()
    return SideCounts(len(df), int((~df["ok"]).sum()), {str(k): int(v) for k, v in modes.items()})


def validate(before: pd.DataFrame, after: pd.DataFrame, rule: FixRule = FixRule()) -> tuple[str, float | None, str]:
    """(verdict, p-value, reason) for a change from the runs of one revision to the next."""
    return validate_counts(side_counts(before), side_counts(after), rule)


def validate_counts(before: SideCounts, after: SideCounts, rule: FixRule = FixRule()) -> tuple[str, float | None, str]:
    """The verdict from counts alone, so it can run on the store's hourly rollup as well as on raw runs."""
    nb, na = before.runs, after.runs
    fb, fa = before.failures, after.failures
    if nb < rule.min_runs or na < rule.min_runs:
        return "insufficient_data", None, f"need {rule.min_runs} runs on each side, have {nb} before and {na} after"
    p = fisher_exact(fb, nb - fb, fa, na - fa)
    rate_b, rate_a = fb / nb, fa / na
    success_a, success_b = 1 - rate_a, 1 - rate_b
    if rate_a > rate_b and p < rule.alpha:
        return "regressed", p, f"failures rose from {rate_b:.0%} to {rate_a:.0%} (Fisher p={p:.2g})"
    if success_a >= rule.healthy_rate:
        if success_b >= rule.healthy_rate:
            return "fixed", p, f"the golden path completes before and after ({success_b:.0%} -> {success_a:.0%}); nothing was broken"
        return "fixed", p, f"the golden path completes again: {success_a:.0%} of {na} runs succeed (was {success_b:.0%}, Fisher p={p:.2g})"
    if success_b >= rule.healthy_rate:
        return "insufficient_data", p, f"failures rose from {rate_b:.0%} to {rate_a:.0%} but not significantly (Fisher p={p:.2g})"
    old = str(before.dominant_mode)
    share_after = after.modes.get(old, 0) / fa if fa else 0.0
    if share_after < rule.vanished_share:
        new = after.dominant_mode or "none"
        return "failure_mode_changed", p, (
            f"{old} vanished but the golden path still does not complete: {success_a:.0%} succeed; failures are now {new}"
        )
    return "not_fixed", p, f"{old} is still {share_after:.0%} of failures; {success_a:.0%} of runs succeed"


def fix_validations(df: pd.DataFrame, rule: FixRule = FixRule()) -> list[Verdict]:
    """A verdict for every change from one revision to the next, in time order."""
    revs = revision_stats(df)
    out = []
    for prev, nxt in zip(revs, revs[1:], strict=False):
        before = df[df["revision"] == prev.revision]
        after = df[df["revision"] == nxt.revision]
        verdict, p, reason = validate(before, after, rule)
        out.append(Verdict(
            from_revision=prev.revision, to_revision=nxt.revision, at=nxt.first_seen, verdict=verdict, p_value=p,
            before={"runs": prev.runs, "failures": prev.runs - prev.successes, "success_rate": prev.success_rate, "dominant_failure_mode": prev.dominant_failure_mode},
            after={"runs": nxt.runs, "failures": nxt.runs - nxt.successes, "success_rate": nxt.success_rate, "dominant_failure_mode": nxt.dominant_failure_mode},
            reason=reason,
        ))
    return out


def fix_validations_from_counts(sides: list[tuple[str, float, SideCounts]], rule: FixRule = FixRule()) -> list[Verdict]:
    """Verdicts from per-revision counts in order of first appearance: (revision, first seen, counts)."""
    out = []
    for (rev_b, _, b), (rev_a, at, a) in zip(sides, sides[1:], strict=False):
        verdict, p, reason = validate_counts(b, a, rule)
        out.append(Verdict(
            from_revision=rev_b, to_revision=rev_a, at=at, verdict=verdict, p_value=p,
            before={"runs": b.runs, "failures": b.failures, "success_rate": 1 - b.failures / b.runs if b.runs else None, "dominant_failure_mode": b.dominant_mode},
            after={"runs": a.runs, "failures": a.failures, "success_rate": 1 - a.failures / a.runs if a.runs else None, "dominant_failure_mode": a.dominant_mode},
            reason=reason,
        ))
    return out


# ---------------------------------------------------------------- the Deploys page's timeline

def revision_spans(first_seen: Iterable[tuple[str, float]], end_ts: float) -> list[tuple[str, float, float]]:
    """(revision, from, to) in time order: a revision runs from its first-seen time until the next one is first seen,
    the last until ``end_ts`` (the window's end: now). One service's revisions replace each other; with several
    services side by side, filter by environment first."""
    ordered = sorted(first_seen, key=lambda r: (r[1], r[0]))
    ends = [ts for _, ts in ordered[1:]] + [end_ts] if ordered else []
    return [(rev, start, max(start, end)) for (rev, start), end in zip(ordered, ends, strict=True)]


TIMELINE_COLUMNS = ("revision", "start_ts", "end_ts", "runs", "failures", "success_rate", "dominant_failure")


def timeline(sides: Iterable[tuple[str, float, SideCounts]], end_ts: float) -> pd.DataFrame:
    """One row per revision in time order (as :func:`revision_spans`), with its runs, success rate and dominant
    failure mode (missing when nothing failed), from per-revision counts such as ``rollups.revision_sides``."""
    sides = list(sides)
    counts = {rev: c for rev, _, c in sides}
    rows = []
    for rev, start, end in revision_spans(((rev, ts) for rev, ts, _ in sides), end_ts):
        c = counts[rev]
        rows.append((rev, start, end, c.runs, c.failures, (1 - c.failures / c.runs) if c.runs else None, c.dominant_mode))
    return pd.DataFrame(rows, columns=list(TIMELINE_COLUMNS))
