"""Silences at the edge and on the command line: bad input is refused naming the flag (exit 2), typed text is
redacted and bounded, the author defaults to $USER, the CLI prints one inert line or one JSON object."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from analysis.cli import main
from probes.errors import ConfigError
from probes.timeutil import iso
from services import silences as svc
from store.sqlite import open_store
from tests.conftest import TEST_SECRET
from tests.store.test_sqlite import make_run

ROOT = Path(__file__).resolve().parents[2]
NOW = time.time()


@pytest.mark.parametrize(("kw", "field"), [
    ({"target": None, "group": None}, "--target / --group"),
    ({"target": "a", "group": "b"}, "--target / --group"),
    ({"until_ts": NOW - 1}, "--until"),
    ({"until_ts": NOW + 91 * 86400}, "--until"),
    ({"starts_ts": NOW + 7200}, "--until"),
    ({"reason": "   "}, "--reason"),
    ({"reason": None}, "--reason"),
    ({"reason": "x" * 5000}, "--reason"),
    ({"target": "a\nb"}, "--target"),
    ({"author": ""}, "--author"),
])
def test_bad_input_is_refused_naming_the_flag_and_nothing_is_stored(db_path: Path, kw: dict, field: str) -> None:  # type: ignore[type-arg]
    args = {"target": "eu", "group": None, "until_ts": NOW + 3600, "reason": "deploy"} | kw
    with open_store(db_path) as s:
        with pytest.raises(ConfigError, match=f"^{field}"):
            svc.add_silence(s, now=NOW, **args)
        assert svc.all_silences(s) == []


def test_reason_and_author_are_redacted_bounded_and_the_author_defaults_to_user(db_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("USER", "ops-oncall")
    with open_store(db_path) as s:
        s1 = svc.add_silence(s, target="eu", group=None, until_ts=NOW + 60, reason=f"db move, token {TEST_SECRET} " + "y" * 900,
                             now=NOW, secrets=(TEST_SECRET,))
        assert TEST_SECRET not in s1.reason and "[redacted]" in s1.reason and len(s1.reason) <= 500
        assert s1.author == "ops-oncall"
        monkeypatch.delenv("USER")
        assert svc.add_silence(s, target="eu", group=None, until_ts=NOW + 60, reason="r", now=NOW).author == "cli"
        assert [x.id for x in svc.active_silences(s, now=NOW + 1)] == ["S1", "S2"]
        assert svc.active_silences(s, now=NOW + 61) == []


def test_target_groups_come_from_the_newest_runs_tags(db_path: Path) -> None:
    from dataclasses import replace

    with open_store(db_path) as s:
        s.save_runs([replace(make_run(1, target="gp-eu", started_at=iso(NOW - 60)), tags={"group": "gp", "location": "eu-west"}),
                     replace(make_run(2, target="gp-us", started_at=iso(NOW - 60)), tags={"group": "gp"}),
                     replace(make_run(3, target="old", started_at=iso(NOW - 30 * 86400)), tags={"group": "gp"}),
                     make_run(4, target="solo", started_at=iso(NOW - 60))])
        groups, members = svc.target_groups(s, now=NOW)
        assert groups == {"gp-eu": "gp", "gp-us": "gp", "old": "gp", "solo": "solo"}
        assert members == {"gp": ["gp-eu", "gp-us"], "solo": ["solo"]}, "a target not probed for a week is no member"
        assert svc.target_locations(s)["gp-eu"] == "eu-west" and svc.target_locations(s)["gp-us"] == "gp-us"


def _cli(capsys: pytest.CaptureFixture[str], db: Path, *args: str) -> tuple[int, str, str]:
    code = main(["silences", *args, "--db", str(db)])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_the_cli_adds_lists_and_expires(db_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    until = iso(NOW + 3600)
    code, out, _ = _cli(capsys, db_path, "add", "--group", "gp", "--until", until, "--reason", "region move\n[x](javascript:1)",
                        "--author", "alice", "--json")
    assert code == 0 and json.loads(out)["silence"]["id"] == "S1" and json.loads(out)["silence"]["state"] == "active"
    code, out, _ = _cli(capsys, db_path, "list")
    assert code == 0 and len(out.splitlines()) == 1 and out.startswith("S1  active") and "group=gp" in out and "by alice" in out
    code, out, _ = _cli(capsys, db_path, "expire", "S1", "--author", "bob", "--json")
    assert code == 0 and json.loads(out)["expired_now"] is True and json.loads(out)["silence"]["expired_by"] == "bob"
    code, out, err = _cli(capsys, db_path, "list")
    assert code == 0 and out == "" and "--all" in err
    code, out, _ = _cli(capsys, db_path, "list", "--all", "--json")
    assert [s["state"] for s in json.loads(out)["silences"]] == ["expired"]


@pytest.mark.parametrize(("args", "field"), [
    (("add", "--target", "t", "--until", "tomorrow", "--reason", "r"), "--until"),
    (("add", "--target", "t", "--until", "2020-01-01T00:00:00Z", "--reason", "r"), "--until"),
    (("add", "--until", "2099-01-01T00:00:00Z", "--reason", "r"), "--target / --group"),
    (("add", "--target", "t", "--until", "2026-12-31T00:00:00Z", "--starts", "soon", "--reason", "r"), "--starts"),
    (("expire", "S404"), "ID"),
    (("expire", "DROP TABLE"), "ID"),
    (("expire", "S\u00b2"), "ID"),  # a superscript two is a digit to str.isdigit, not to int()
])
def test_the_cli_exits_2_naming_the_field(db_path: Path, capsys: pytest.CaptureFixture[str], args: tuple[str, ...], field: str) -> None:
    code, out, err = _cli(capsys, db_path, *args)
    assert code == 2 and out == "" and f"config error: {field}" in err, err
    assert "Traceback" not in err


def test_python_m_analysis_silences_in_a_subprocess(db_path: Path) -> None:
    env = {**os.environ, "PATHWATCH_DB": str(db_path), "USER": "cron"}
    add = subprocess.run([sys.executable, "-m", "analysis", "silences", "add", "--target", "sandbox", "--until", iso(NOW + 600),
                          "--reason", "\x1b[31mred\x1b[0m deploy"], capture_output=True, text=True, timeout=60, cwd=ROOT, env=env)
    assert add.returncode == 0, add.stderr
    assert "\x1b" not in add.stdout and "\\x1b[31mred" in add.stdout and "by cron" in add.stdout
    listed = subprocess.run([sys.executable, "-m", "analysis", "silences", "list", "--json"], capture_output=True, text=True, timeout=60,
                            cwd=ROOT, env=env)
    assert listed.returncode == 0 and json.loads(listed.stdout)["silences"][0]["target"] == "sandbox"


def test_muted_and_held_incidents_from_the_store(db_path: Path) -> None:
    from dataclasses import replace

    from analysis.incidents import Incident

    runs = [replace(make_run(i, target=f"gp-{loc}", started_at=iso(NOW - 60)), tags={"group": "gp", "location": f"{loc}-1"})
            for i, loc in enumerate(("eu", "us", "asia"))]
    alone = Incident("INC-eu", NOW - 600, None, ("gp-eu",), (), "server_error", "sig", 3, 3, ())
    both = Incident("INC-2", NOW - 600, None, ("gp-eu", "gp-us"), (), "server_error", "sig", 3, 3, ())
    with open_store(db_path) as s:
        s.save_runs(runs)
        assert svc.held_incidents(s, [alone], None, now=NOW) == {
            "INC-eu": "only eu-1 of gp's 3 locations is failing (quorum 2): that location's problem; not paged"}
        assert svc.held_incidents(s, [alone, both], None, now=NOW) == {}, "us fails at the same time: the group is down"
        assert svc.muted_incidents(s, [alone, both], now=NOW) == {}
        svc.add_silence(s, target=None, group="gp", until_ts=NOW + 600, reason="region move", author="a", now=NOW - 1)
        muted = svc.muted_incidents(s, [alone, both], now=NOW)
        assert set(muted) == {"INC-eu", "INC-2"} and all(m.startswith("silenced by S1 until ") and m.endswith("(region move)")
                                                         for m in muted.values())
        assert svc.muted_incidents(s, [alone], now=NOW + 601) == {}
        # An incident that began and ended inside the window stays quiet after it; one that outlived it does not.
        inside = Incident("INC-in", NOW - 300, NOW + 300, ("gp-eu",), (), "server_error", "sig", 3, 3, ())
        outlived = Incident("INC-out", NOW - 300, NOW + 900, ("gp-eu",), (), "server_error", "sig", 3, 3, ())
        assert list(svc.muted_incidents(s, [inside, outlived], now=NOW + 1800)) == ["INC-in"]


def test_policy_inputs_give_the_planner_muted_held_and_no_data(db_path: Path) -> None:
    from dataclasses import replace

    from analysis.incidents import Incident
    from analysis.settings import Settings

    runs = [replace(make_run(i, target=t, started_at=iso(NOW - 60 - 30 * (i % 5) - (3600 if t == "gone" else 0))), tags={"group": g})
            for i, (t, g) in enumerate([(t, g) for t, g in (("gp-eu", "gp"), ("gp-us", "gp"), ("gone", "gone")) for _ in range(5)])]
    incs = [Incident("INC-eu", NOW - 600, None, ("gp-eu",), (), "server_error", "sig", 3, 3, ()),
            Incident("INC-gone", NOW - 600, None, ("gone",), (), "server_error", "sig", 3, 3, ())]
    with open_store(db_path) as s:
        s.save_runs(runs)
        svc.add_silence(s, target="gone", group=None, until_ts=NOW + 20, reason="decommission", author="a", now=NOW - 1)
        muted, held, extra = svc.policy_inputs(s, Settings(), incs, now=NOW)
        assert list(muted) == ["INC-gone"] and list(held) == ["INC-eu"], "a muted incident is not also held"
        assert extra == [], "a silenced target's stopped probe is not news"
        muted, _, extra = svc.policy_inputs(s, Settings(), incs, now=NOW + 21)
    assert muted == {} and [n.key.rsplit(":", 1)[0] for n in extra] == ["no_data:gone"], "after the silence it is"
