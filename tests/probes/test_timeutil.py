"""``probes.timeutil``: the one place times are parsed and printed."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from probes.errors import ConfigError
from probes.timeutil import compact, human_minutes, human_utc, iso, parse_duration, parse_iso, parse_iso_arg, rfc3339

T = 1_795_629_822.0  # 2026-11-25T18:03:42Z


def test_z_and_offsets_name_the_same_moment() -> None:
    assert parse_iso("2026-11-25T18:03:42Z") == T
    assert parse_iso("2026-11-25T18:03:42z") == T
    assert parse_iso("2026-11-25T18:03:42+00:00") == T
    assert parse_iso("2026-11-25T19:03:42+01:00") == T, "an offset is honoured, not dropped"
    assert parse_iso("2026-11-25T18:03:42.906431Z") == pytest.approx(T + 0.906431)


@pytest.mark.parametrize("naive", ["2026-11-25T18:03:42", "2026-11-25", "2026-11-25 18:03:42.5"])
def test_a_time_without_an_offset_is_refused_not_read_as_local_time(naive: str) -> None:
    with pytest.raises(ValueError, match="no UTC offset"):
        parse_iso(naive)


@pytest.mark.parametrize("bad", ["yesterday", "", "   ", "Z", "2026-13-01T00:00:00Z", "9" * 200, None, 1795629822])
def test_what_is_not_a_time_is_a_value_error(bad: object) -> None:
    with pytest.raises(ValueError):
        parse_iso(bad)  # type: ignore[arg-type]


def test_a_flag_names_itself_and_the_form_it_wants() -> None:
    with pytest.raises(ConfigError, match=r"--start '2026-11-25T10:00:00': no UTC offset .*e\.g\. 2026-11-25T10:00:00Z"):
        parse_iso_arg("2026-11-25T10:00:00", "--start")


@given(st.floats(min_value=0, max_value=4_102_444_800, allow_nan=False))  # 1970 to 2100
def test_format_then_parse_round_trips(ts: float) -> None:
    assert parse_iso(rfc3339(ts)) == pytest.approx(ts, abs=1e-6)
    assert 0 <= ts - parse_iso(iso(ts)) < 1 or parse_iso(iso(ts)) - ts < 1e-6, "seconds precision drops the fraction"
    assert rfc3339(ts).endswith("Z") and "+00:00" not in rfc3339(ts)


def test_formats_for_people_and_ids() -> None:
    assert iso(T) == "2026-11-25T18:03:42Z" and iso(None) is None
    assert iso(T + 0.5, "milliseconds") == "2026-11-25T18:03:42.500Z"
    assert human_utc(T) == "2026-11-25 18:03 UTC" and human_utc(T, seconds=True) == "2026-11-25 18:03:42 UTC"
    assert compact(T) == "20261125T180342"


def test_durations() -> None:
    assert parse_duration("90s") == 90 and parse_duration("24h") == 86400 and parse_duration(" 2w ") == 14 * 86400
    with pytest.raises(ConfigError, match="--since 'soon': not a duration"):
        parse_duration("soon", "--since")
    with pytest.raises(ConfigError, match="at least 1m"):
        parse_duration("30s", "--chunk", min_s=60)
    assert [human_minutes(m) for m in (0.5, 12, 192)] == ["30 s", "12 min", "3 h 12 min"]
