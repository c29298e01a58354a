"""An incident keeps its id when a later detection finds that it began earlier on another target."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from analysis import incidents
from analysis.frame import from_runs
from probes.record import ProbeRun

T0 = datetime(2026, 11, 25, tzinfo=UTC).timestamp()


def _run(target: str, t: float, ok: bool) -> ProbeRun:
    at = datetime.fromtimestamp(T0 + t, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return ProbeRun(run_id=f"{target}-{t:05.1f}", target=target, url="ws://x/ws", started_at=at, outcome="ok" if ok else "server_error",
                    failed_phase=None if ok else "agent_thinking", close_code=None if ok else 1011, total_ms=1000.0, revision="r2")


# Region b starts failing first (t=9) but is probed less often, so its third failure comes only at t=13;
# region a fails at 10, 11, 12. A detection at t=12.5 sees a's incident alone.
RUNS = sorted([_run("a", t, t < 10) for t in (7, 8, 9, 10, 11, 12, 14, 15)] + [_run("a", t, True) for t in (16, 17, 18)]
              + [_run("b", t, t < 9) for t in (5, 9, 11.5, 13)] + [_run("b", t, True) for t in (16.5, 17.5, 18.5)],
              key=lambda r: r.started_at)


def test_the_stored_id_survives_an_earlier_start() -> None:
    early = [r for r in RUNS if r.started_at < datetime.fromtimestamp(T0 + 12.5, UTC).isoformat()]
    (first,) = incidents.detect(from_runs(early))
    assert first.targets == ("a",) and first.open
    (full,) = incidents.detect(from_runs(RUNS))
    assert full.targets == ("a", "b") and full.start_ts == T0 + 9, "b's earlier failures join the same outage"
    assert full.id != first.id, "left alone, the id would change with the first failed run"
    (kept,) = incidents.keep_ids([full], [first])
    assert kept.id == first.id and kept.start_ts == T0 + 9 and not kept.open


def test_unrelated_incidents_keep_their_own_ids() -> None:
    (full,) = incidents.detect(from_runs(RUNS))
    other = replace(full, id="INC-other", failure_mode="event_timeout/agent_started/-")
    manual = replace(full, id="MAN-1", kind="manual")
    assert [i.id for i in incidents.keep_ids([full], [other, manual])] == [full.id]
