"""The settings file: every key read, every bad value named by its key."""

from __future__ import annotations

from pathlib import Path

import pytest

from analysis.settings import parse_settings, settings_from_env
from probes.errors import ConfigError

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
