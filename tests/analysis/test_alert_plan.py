"""The planner (pure): what is due for each incident, given what the outbox already holds. No sockets, no store."""

from __future__ import annotations

from dataclasses import replace

from analysis.alerting import AlertingSettings, Notice, Sent, plan_notices, retry_delay
from analysis.incidents import Incident

T0 = 1_800_000_000.0
S = AlertingSettings(reminder_s=3600.0)


def inc(end: float | None = None, *, targets: tuple[str, ...] = ("eu",), signature: str = "server_error 1011 in agent_thinking",
        superseded: bool = False, mode: str = "server_error/agent_thinking/1011") -> Incident:
    return Incident(id="INC-1", start_ts=T0, end_ts=end, targets=targets, revisions=("r1",), failure_mode=mode,
                    signature=signature, failed_runs=3, total_runs=3, evidence_runs=("a",), superseded=superseded)


def plan(incidents: list[Incident], sent: list[Sent], now: float, **kw: object) -> list[Notice]:
    return plan_notices(incidents, sent, now=now, settings=kw.pop("settings", S), public_url="https://pw.example", **kw)  # type: ignore[arg-type]


def ledger(*notices: Notice, at: float = T0 + 10) -> list[Sent]:
    return [Sent(n, at) for n in notices]


def test_open_then_nothing_until_the_reminder_then_resolve_with_the_open_labels() -> None:
    first = plan([inc()], [], now=T0 + 10)
    assert [n.key for n in first] == ["incident:INC-1:open"]
    o = first[0]
    assert o.severity == "page" and o.outcome == "server_error" and o.targets == ("eu",) and o.ends_at is None
    assert o.url == "https://pw.example/incidents?incident=INC-1" and o.summary == "server_error 1011 in agent_thinking"
    assert plan([inc()], ledger(o), now=T0 + 20) == []  # a second pass, or a concurrent one after the first enqueued
    remind = plan([inc()], ledger(o), now=T0 + 10 + 3600 * 2.5)
    assert [n.key for n in remind] == ["incident:INC-1:remind:2"]  # only the latest ordinal, counted from the open
    assert plan([inc()], ledger(o, *remind), now=T0 + 10 + 3600 * 2.9) == []
    done = plan([inc(T0 + 500)], ledger(o, *remind), now=T0 + 3600 * 3)
    assert [(n.key, n.ends_at, n.targets, n.severity) for n in done] == [("incident:INC-1:resolve", T0 + 500, ("eu",), "page")]
    assert plan([inc(T0 + 500)], ledger(o, *remind, *done), now=T0 + 3600 * 3) == []


def test_two_passes_with_the_same_view_plan_the_same_keys() -> None:
    a = plan([inc(targets=("eu", "us"))], ledger(plan([inc()], [], now=T0)[0]), now=T0 + 100)
    b = plan([inc(targets=("eu", "us"))], ledger(plan([inc()], [], now=T0)[0]), now=T0 + 101)
    assert [n.key for n in a] == [n.key for n in b] == ["incident:INC-1:escalate:1"]


def test_escalation_on_a_new_signature_or_target_not_on_a_recovered_target() -> None:
    o = plan([inc(targets=("eu", "us"))], [], now=T0)[0]
    assert plan([inc(targets=("eu",))], ledger(o), now=T0 + 5) == []  # one target recovered: no news
    e1 = plan([inc(targets=("eu", "us", "asia"))], ledger(o), now=T0 + 5)
    assert [n.key for n in e1] == ["incident:INC-1:escalate:1"] and e1[0].targets == ("asia", "eu", "us")
    # One more failed run changes the sentence ("; 5 of 5 failures since r1"), not the failure: no news, pass after pass.
    more = inc(targets=("eu", "us", "asia"), signature="server_error 1011 in agent_thinking; 9 of 9 failures since r1")
    assert plan([more], ledger(o, *e1), now=T0 + 6) == []
    e2 = plan([inc(targets=("eu", "us", "asia"), signature="event_timeout waiting for agent_started", mode="event_timeout/agent_started/")],
              ledger(o, *e1), now=T0 + 6)
    assert [n.key for n in e2] == ["incident:INC-1:escalate:2"] and e2[0].mode == "event_timeout/agent_started/"


def test_an_incident_that_opened_and_closed_between_passes_gets_open_then_resolve() -> None:
    got = plan([inc(T0 + 60)], [], now=T0 + 120)
    assert [n.kind for n in got] == ["open", "resolve"] and got[1].ends_at == T0 + 60
    assert plan([inc(T0 + 60)], [], now=T0 + 60 + 7200) == []  # old history is not paged about
    assert plan([inc(T0 + 60, superseded=True)], [], now=T0 + 120) == []


def test_muted_and_held_get_nothing_now_and_their_open_goes_out_when_that_ends() -> None:
    why = {"INC-1": "silenced by S1 until 12:00 (deploy)"}
    assert plan([inc()], [], now=T0, muted=why) == [] and plan([inc()], [], now=T0, held={"INC-1": "1 of 3 locations"}) == []
    assert [n.kind for n in plan([inc()], [], now=T0 + 900)] == ["open"]
    assert plan([inc(T0 + 60)], [], now=T0 + 90, muted=why) == []  # never opened: no resolve either


def test_extra_notices_go_out_once_by_key_and_impact_is_carried() -> None:
    nd = Notice(key="no_data:eu:1800000000", kind="no_data", incident_id=None, targets=("eu",), group="eu", severity="page",
                outcome="no_data", summary="no data from eu since 10:00", impact="", starts_at=T0)
    first = plan([inc()], [], now=T0, extra=[nd], impact={"INC-1": "about $40 at risk"})
    assert [n.key for n in first] == ["incident:INC-1:open", nd.key] and first[0].impact == "about $40 at risk"
    assert plan([], ledger(nd), now=T0 + 5, extra=[nd]) == []


def test_notice_round_trips_through_its_document_and_a_reminder_of_zero_never_reminds() -> None:
    o = plan([inc()], [], now=T0)[0]
    assert Notice.from_doc(o.to_doc() | {"future": 1}) == o
    assert plan([inc()], ledger(o), now=T0 + 10 * 86400, settings=replace(S, reminder_s=0.0)) == []


def test_retry_delay_doubles_from_the_base_up_to_the_cap() -> None:
    assert [retry_delay(n, 10.0) for n in (0, 1, 2, 3)] == [0.0, 10.0, 20.0, 40.0]
    assert retry_delay(30, 10.0) == 3600.0 and retry_delay(1, 10.0, jitter=0.5) == 15.0
