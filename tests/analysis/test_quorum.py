"""Quorum across locations: one location failing alone is held with a sentence naming it; enough locations page."""

from __future__ import annotations

from analysis.incidents import Incident
from analysis.quorum import held, needed

GROUPS = {"gp-eu": "golden-path", "gp-us": "golden-path", "gp-asia": "golden-path", "solo": "solo"}
MEMBERS = {"golden-path": ["gp-asia", "gp-eu", "gp-us"], "solo": ["solo"]}
LOCATIONS = {"gp-eu": "eu-west", "gp-us": "us-east", "gp-asia": "asia-east"}


def inc(i: str, *targets: str) -> Incident:
    return Incident(i, 0.0, None, targets, (), "server_error", "sig", 3, 3, ())


def test_the_default_quorum_is_two_of_several_and_one_alone() -> None:
    assert (needed(None, 3), needed(None, 1), needed(3, 2), needed(2, 5), needed(1, 3)) == (2, 1, 2, 2, 1)


def test_one_location_alone_is_held_naming_it() -> None:
    out = held([inc("A", "gp-eu"), inc("B", "gp-eu", "gp-us"), inc("C", "solo"), inc("M")], MEMBERS, GROUPS, None, locations=LOCATIONS)
    assert out == {"A": "only eu-west of golden-path's 3 locations is failing (quorum 2): that location's problem; not paged"}


def test_a_configured_quorum_holds_until_enough_locations_fail() -> None:
    out = held([inc("B", "gp-eu", "gp-us"), inc("D", "gp-eu", "gp-us", "gp-asia")], MEMBERS, GROUPS, 3, locations=LOCATIONS)
    assert out == {"B": "only eu-west and us-east of golden-path's 3 locations are failing (quorum 3): those locations' problem; not paged"}
    assert held([inc("A", "gp-eu")], MEMBERS, GROUPS, 1) == {}, "quorum 1: every location pages"


def test_a_group_that_meets_its_quorum_pages_even_when_another_does_not() -> None:
    groups = GROUPS | {"b-1": "b", "b-2": "b"}
    members = MEMBERS | {"b": ["b-1", "b-2"]}
    assert held([inc("X", "gp-eu", "gp-us", "b-1")], members, groups, None) == {}
    assert held([inc("Y", "gp-eu")], {}, GROUPS, None) == {}, "no member seen recently: the failing target is the whole group"
