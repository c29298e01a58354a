"""The shared sidebar filters (environment, targets, time range, revision), mirrored in the URL's query string so a
link reproduces the view; a page opened without them keeps the session's last choice."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import streamlit as st

from pages import _data as data

RANGES: dict[str, float | None] = {"1h": 3600.0, "6h": 6 * 3600.0, "24h": 86400.0, "7d": 7 * 86400.0, "30d": 30 * 86400.0, "all": None}
DEFAULT_RANGE = "24h"
LAST_FILTERS_KEY = "pw_last_filters"
FILTER_PARAMS = ("target", "env", "range", "revision")


@dataclass(frozen=True)
class Filters:
    targets: tuple[str, ...]
    environment: str | None
    range_name: str
    revision: str | None
    now: float

    @property
    def since_ts(self) -> float | None:
        span = RANGES[self.range_name]
        return None if span is None else self.now - span

    @property
    def span_s(self) -> float | None:
        return RANGES[self.range_name]


def _query_list(name: str) -> list[str]:
    return [v for v in st.query_params.get_all(name) if v]


def filters() -> Filters:
    """Draw the filters in the sidebar and return their values (read from, and written back to, the URL)."""
    catalogue = data.target_catalogue()
    envs = sorted({e for e in catalogue.values() if e})
    last: dict[str, Any] = st.session_state.get(LAST_FILTERS_KEY) or {}
    has_qp = any(k in st.query_params for k in FILTER_PARAMS)
    qp_targets = [t for t in (_query_list("target") if has_qp else last.get("target", [])) if t in catalogue]
    qp_env = st.query_params.get("env") if has_qp else last.get("env")
    qp_range = st.query_params.get("range", DEFAULT_RANGE) if has_qp else last.get("range", DEFAULT_RANGE)
    qp_rev = st.query_params.get("revision") if has_qp else last.get("revision")
    sb = st.sidebar
    sb.header("Filters")
    env = sb.selectbox("Environment", ["(all)", *envs], index=(envs.index(qp_env) + 1) if qp_env in envs else 0, key="f_env")
    names = sorted(t for t, e in catalogue.items() if env == "(all)" or e == env)
    chosen = sb.multiselect("Targets", names, default=[t for t in qp_targets if t in names], key="f_targets", placeholder="all targets")
    range_names = list(RANGES)
    rng = sb.selectbox("Time range", range_names, index=range_names.index(qp_range) if qp_range in RANGES else range_names.index(DEFAULT_RANGE), key="f_range")
    revs = data.revision_names()
    rev = sb.selectbox("Revision", ["(all)", *revs], index=(revs.index(qp_rev) + 1) if qp_rev in revs else 0, key="f_rev")
    _write_back(chosen, env, rng, rev)
    targets = tuple(chosen) if chosen else (tuple(names) if env != "(all)" else ())
    return Filters(targets=targets, environment=None if env == "(all)" else env, range_name=rng,
                   revision=None if rev == "(all)" else rev, now=now())


def _write_back(chosen: list[str], env: str, rng: str, rev: str) -> None:
    """Write the choice back to the URL: only what differs from the default (links stay short), and only the filter
    keys (others, such as ``run`` and ``incident``, belong to the page and stay)."""
    wanted: dict[str, Any] = {}
    if chosen:
        wanted["target"] = chosen
    if env != "(all)":
        wanted["env"] = env
    if rng != DEFAULT_RANGE:
        wanted["range"] = rng
    if rev != "(all)":
        wanted["revision"] = rev
    for k in FILTER_PARAMS:
        have = st.query_params.get_all(k) if k == "target" else st.query_params.get(k)
        if k not in wanted and k in st.query_params:
            del st.query_params[k]
        elif k in wanted and have != wanted[k]:
            st.query_params[k] = wanted[k]
    st.session_state[LAST_FILTERS_KEY] = wanted


def now() -> float:
    """The pages' clock: read once per page run and passed to ``analysis`` (which never reads a clock)."""
    return time.time()
