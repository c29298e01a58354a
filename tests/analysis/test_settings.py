"""The settings file: every key read, every bad value named by its key."""

from __future__ import annotations

from pathlib import Path

import pytest

from analysis.settings import parse_settings
from probes.errors import ConfigError
from services.settings import settings_from_env

DEMO = Path(__file__).resolve().parents[2] / "demo" / "settings.toml"


def test_the_demo_settings_file_is_read_whole() -> None:
    s = settings_from_env({"PATHWATCH_SETTINGS": str(DEMO)})
    assert s.report.slo.objective == 0.99 and s.report.slo.threshold_s == 10 and s.report.slo.window_s == 30 * 86400
    assert s.report.impact.monthly_revenue == 120000 and s.report.impact.active_users == 2000
    assert (s.report.incidents.open_after, s.report.incidents.close_after) == (3, 3)
    assert s.dashboard.refresh_s == 10 and s.dashboard.read_only is False


def test_no_file_means_defaults() -> None:
    s = settings_from_env({})
    assert s.report.incidents.burn_alerts is True and s.dashboard.read_only is False


def test_incident_rule_keys() -> None:
    s = parse_settings({"incidents": {"open_after": 5, "burn_alerts": False, "burn_min_runs": 10}})
    assert (s.report.incidents.open_after, s.report.incidents.burn_alerts, s.report.incidents.burn_min_runs) == (5, False, 10)


@pytest.mark.parametrize(("data", "named"), [
    ({"slo": {"objective": 1.5}}, "slo.objective"),
    ({"slo": {"threshold_s": "ten"}}, "slo.threshold_s"),
    ({"impact": {"currency": "dollars!"}}, "impact.currency"),
    ({"incidents": {"open_after": 0}}, "incidents.open_after"),
    ({"incidents": {"burn_alerts": "yes"}}, "incidents.burn_alerts"),
    ({"dashboard": {"read_only": 1}}, "dashboard.read_only"),
    ({"dashboard": {"public_url": "ftp://x"}}, "dashboard.public_url"),
    ({"alerts": {}}, "unknown top-level key"),
])
def test_bad_values_are_named(data: dict, named: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(ConfigError, match=named.replace(".", r"\.")):
        parse_settings(data)


@pytest.mark.parametrize(("data", "named"), [
    ({"slo": {"objective": float("nan")}}, "slo.objective"),
    ({"slo": {"threshold_s": float("inf")}}, "slo.threshold_s"),
    ({"slo": {"threshold_s": 1e12}}, "slo.threshold_s"),
    ({"slo": {"window_days": float("nan")}}, "slo.window_days"),
    ({"slo": {"window_days": 0}}, "slo.window_days"),
    ({"impact": {"monthly_revenue": float("nan")}}, "impact.monthly_revenue"),
    ({"impact": {"active_users": float("inf")}}, "impact.active_users"),
    ({"impact": {"max_gap_s": float("-inf")}}, "impact.max_gap_s"),
    ({"incidents": {"open_after": float("nan")}}, "incidents.open_after"),
    ({"incidents": {"close_after": 10**9}}, "incidents.close_after"),
    ({"dashboard": {"refresh_s": float("nan")}}, "dashboard.refresh_s"),
    ({"dashboard": {"refresh_s": 0.01}}, "dashboard.refresh_s"),
])
def test_nan_inf_and_absurd_numbers_are_named(data: dict, named: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(ConfigError, match=named.replace(".", r"\.")):
        parse_settings(data)


def test_a_toml_date_where_a_number_belongs_is_named() -> None:
    import datetime

    with pytest.raises(ConfigError, match=r"slo\.threshold_s: must be a number, got a TOML date/time"):
        parse_settings({"slo": {"threshold_s": datetime.date(2026, 11, 25)}})


def test_edge_values_still_accepted() -> None:
    s = parse_settings({"slo": {"objective": 0.999, "threshold_s": 86400, "window_days": 366}, "dashboard": {"refresh_s": 0},
                        "impact": {"monthly_revenue": 0, "active_users": 0}})
    assert s.report.slo.threshold_s == 86400 and s.dashboard.refresh_s == 0 and s.report.impact.active_users == 0


def test_alerting_keys() -> None:
    s = parse_settings({"alerting": {
        "channels": [{"name": "am", "kind": "alertmanager", "url": "http://127.0.0.1:9093"},
                     {"name": "slack", "kind": "apprise", "url_env": "PATHWATCH_SLACK_URL"}],
        "reminder_s": 0, "quorum": 2, "no_data_after": 5, "probe_interval_s": 30, "retry_base_s": 5, "max_attempts": 3,
        "exclude_silences": True}}).alerting
    assert [(c.name, c.kind, c.url_env) for c in s.channels] == [("am", "alertmanager", ""), ("slack", "apprise", "PATHWATCH_SLACK_URL")]
    assert (s.reminder_s, s.quorum, s.no_data_after, s.probe_interval_s, s.retry_base_s, s.max_attempts, s.exclude_silences) == (
        0, 2, 5, 30, 5, 3, True)
    assert "hooks.slack" not in repr(parse_settings({"alerting": {"channels": [
        {"name": "s", "kind": "apprise", "url": "slack://hooks.slack/T/B/secret"}]}}).alerting)
    assert parse_settings({}).alerting.channels == () and parse_settings({}).alerting.reminder_s == 4 * 3600


@pytest.mark.parametrize(("data", "named"), [
    ({"alerting": {"channels": {"name": "x"}}}, "alerting.channels"),
    ({"alerting": {"channels": [{"name": "x", "kind": "sms", "url": "http://a"}]}}, r"alerting.channels\[0\].kind"),
    ({"alerting": {"channels": [{"name": "x y", "kind": "apprise", "url": "json://a"}]}}, r"alerting.channels\[0\].name"),
    ({"alerting": {"channels": [{"name": "x", "kind": "apprise"}]}}, "exactly one of url or url_env"),
    ({"alerting": {"channels": [{"name": "x", "kind": "apprise", "url": "json://a", "url_env": "A"}]}}, "exactly one of url or url_env"),
    ({"alerting": {"channels": [{"name": "x", "kind": "apprise", "url_env": "A-B"}]}}, r"alerting.channels\[0\].url_env"),
    ({"alerting": {"channels": [{"name": "x", "kind": "alertmanager", "url": "ftp://a"}]}}, r"alerting.channels\[0\].url"),
    ({"alerting": {"channels": [{"name": "x", "kind": "apprise", "url": "json://a", "token": "t"}]}}, "unknown key"),
    ({"alerting": {"channels": [{"name": "x", "kind": "apprise", "url": "json://a"}] * 2}}, "names must be unique"),
    ({"alerting": {"reminder_s": float("nan")}}, "alerting.reminder_s"),
    ({"alerting": {"quorum": 0}}, "alerting.quorum"),
    ({"alerting": {"no_data_after": True}}, "alerting.no_data_after"),
    ({"alerting": {"probe_interval_s": 0}}, "alerting.probe_interval_s"),
    ({"alerting": {"max_attempts": 1000}}, "alerting.max_attempts"),
    ({"alerting": {"exclude_silences": "no"}}, "alerting.exclude_silences"),
    ({"alerting": {"paging": 1}}, r"unknown key\(s\) in \[alerting\]"),
])
def test_bad_alerting_values_are_named(data: dict, named: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(ConfigError, match=named):
        parse_settings(data)
