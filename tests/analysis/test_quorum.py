"""Quorum across locations: one location failing alone is held with a sentence naming it; enough locations page."""

from __future__ import annotations

from analysis.incidents import Incident
from analysis.quorum import held, needed

GROUPS = {"gp-eu": "golden-path", "gp-us": "golden-path", "gp-asia": "golden-path", "solo": "solo"}
MEMBERS = {"golden-path": ["gp-asia", "gp-eu", "gp-us"], "solo": ["solo"]}
LOCATIONS = {"gp-eu": "eu-west", "gp-us": "us-east", "gp-asia": "asia-east"}


def inc(i: str, *targets: str, start: float = 0.0, end: float | None = None, mode: str = "server_error") -> Incident:
    return Incident(i, start, end, targets, (), mode, "sig", 3, 3, ())


def test_the_default_quorum_is_two_of_several_and_one_alone() -> None:
    assert (needed(None, 3), needed(None, 1), needed(3, 2), needed(2, 5), needed(1, 3)) == (2, 1, 2, 2, 1)


def test_one_location_alone_is_held_naming_it() -> None:
    out = held([inc("A", "gp-eu"), inc("C", "solo"), inc("M")], MEMBERS, GROUPS, None, locations=LOCATIONS)
    assert out == {"A": "only eu-west of golden-path's 3 locations is failing (quorum 2): that location's problem; not paged"}
    assert held([inc("B", "gp-eu", "gp-us")], MEMBERS, GROUPS, None) == {}


def test_locations_failing_in_different_ways_at_once_are_the_group_down() -> None:
    crash, timeout = inc("A", "gp-eu"), inc("X", "gp-us", mode="event_timeout")
    assert held([crash, timeout], MEMBERS, GROUPS, None) == {}, "eu crashing while us times out: two of three locations"
    later = inc("X", "gp-us", start=1000.0, end=2000.0, mode="event_timeout")
    assert set(held([inc("A", "gp-eu", end=500.0), later], MEMBERS, GROUPS, None)) == {"A", "X"}, "one at a time: each alone"


def test_a_configured_quorum_holds_until_enough_locations_fail() -> None:
    out = held([inc("B", "gp-eu", "gp-us")], MEMBERS, GROUPS, 3, locations=LOCATIONS)
    assert out == {"B": "only eu-west and us-east of golden-path's 3 locations are failing (quorum 3): those locations' problem; not paged"}
    assert held([inc("D", "gp-eu", "gp-us", "gp-asia")], MEMBERS, GROUPS, 3) == {}
    assert held([inc("A", "gp-eu")], MEMBERS, GROUPS, 1) == {}, "quorum 1: every location pages"


def test_a_group_that_meets_its_quorum_pages_even_when_another_does_not() -> None:
    groups = GROUPS | {"b-1": "b", "b-2": "b"}
    members = MEMBERS | {"b": ["b-1", "b-2"]}
    assert held([inc("X", "gp-eu", "gp-us", "b-1")], members, groups, None) == {}
    assert held([inc("Y", "gp-eu")], {}, GROUPS, None) == {}, "no member seen recently: the failing target is the whole group"
