"""What every page shares: settings, the sidebar filters (mirrored in the URL), cached store reads, chart helpers.

Pages stay thin: they call these loaders, pass the data to ``analysis`` and lay out
the answers. No statistics here; reads go through ``store``.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from analysis import five_whys, rollups
from analysis.frame import COLUMNS, runs_frame
from analysis.settings import Settings, settings_from_env
from probes.errors import PathwatchError
from probes.record import ProbeRun
from probes.redact import clip, known_secrets, printable, redact
from store import incidents as store_incidents
from store import resolve_db_path, rollup
from store.sqlite import Store, open_store

RANGES: dict[str, float | None] = {"1h": 3600.0, "6h": 6 * 3600.0, "24h": 86400.0, "7d": 7 * 86400.0, "30d": 30 * 86400.0, "all": None}
DEFAULT_RANGE = "24h"
#: Raw runs are loaded for windows up to this long; longer windows use the rollups (failures alone: up to a week).
RAW_LIMIT_S = 86400.0
RAW_FAILED_LIMIT_S = 7 * 86400.0
STATE_COLOURS = {"done": "#2e7d32", "failed": "#c62828", "not_reached": "#9e9e9e", "skipped": "#e0e0e0"}
OUTCOME_COLOURS = {"ok": "#2e7d32", "server_error": "#c62828", "event_timeout": "#ef6c00", "auth_rejected": "#6a1b9a"}


# ---------------------------------------------------------------- settings and the store

@st.cache_resource
def settings() -> Settings:
    """Settings from the TOML file named by PATHWATCH_SETTINGS (defaults when unset)."""
    return settings_from_env()


def db_path() -> str:
    return str(resolve_db_path(None))


@contextmanager
def reading() -> Iterator[Store]:
    """A short-lived connection per read: SQLite opens in about a millisecond and WAL lets readers run beside the probes.

    In read-only mode the store is opened read-only: nothing is created (not even a missing store), migrated or written.
    """
    with open_store(db_path(), read_only=read_only()) as s:
        yield s


def read_only() -> bool:
    """Read-only when asked (PATHWATCH_READ_ONLY=1, ``[dashboard] read_only = true``) or when the store cannot be written
    (a read-only mount, no permission): every editor is hidden and nothing is written."""
    asked = settings().dashboard.read_only or os.environ.get("PATHWATCH_READ_ONLY", "") in ("1", "true", "yes")
    return asked or not store_writable(db_path())


def store_writable(path: str) -> bool:
    """Whether the dashboard may write the store: the file (or, for a new store, its nearest existing folder) is writable."""
    p = os.path.abspath(path)
    if os.path.exists(p):
        return os.access(p, os.W_OK) and os.access(os.path.dirname(p), os.W_OK)
    parent = os.path.dirname(p)
    while parent and not os.path.exists(parent):
        parent = os.path.dirname(parent) if os.path.dirname(parent) != parent else ""
    return bool(parent) and os.path.isdir(parent) and os.access(parent, os.W_OK)


# ---------------------------------------------------------------- filters (sidebar + URL)

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


LAST_FILTERS_KEY = "pw_last_filters"
FILTER_PARAMS = ("target", "env", "range", "revision")


def _query_list(name: str) -> list[str]:
    return [v for v in st.query_params.get_all(name) if v]


def filters() -> Filters:
    """The shared sidebar filters; their values live in the URL query string, so a link reproduces the view."""
    catalogue = target_catalogue()
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
    revs = revision_names()
    rev = sb.selectbox("Revision", ["(all)", *revs], index=(revs.index(qp_rev) + 1) if qp_rev in revs else 0, key="f_rev")
    # Write the choice back to the URL (only what differs from the default, so links stay short).
    wanted: dict[str, Any] = {}
    if chosen:
        wanted["target"] = chosen
    if env != "(all)":
        wanted["env"] = env
    if rng != DEFAULT_RANGE:
        wanted["range"] = rng
    if rev != "(all)":
        wanted["revision"] = rev
    # Only the filter keys are ours; others (run, incident) belong to the page and stay.
    for k in FILTER_PARAMS:
        have = st.query_params.get_all(k) if k == "target" else st.query_params.get(k)
        if k not in wanted and k in st.query_params:
            del st.query_params[k]
        elif k in wanted and have != wanted[k]:
            st.query_params[k] = wanted[k]
    st.session_state[LAST_FILTERS_KEY] = wanted
    targets = tuple(chosen) if chosen else (tuple(names) if env != "(all)" else ())
    return Filters(targets=targets, environment=None if env == "(all)" else env, range_name=rng,
                   revision=None if rev == "(all)" else rev, now=now())


def now() -> float:
    return time.time()


# ---------------------------------------------------------------- cached reads

@st.cache_data(ttl=10, show_spinner=False)
def target_catalogue() -> dict[str, str | None]:
    """Every target ever probed and its environment (from its latest run)."""
    with reading() as s:
        return {r.target: r.tags.get("environment") for r in rollup.latest_runs(s)}


@st.cache_data(ttl=10, show_spinner=False)
def revision_names() -> list[str]:
    return [r for r, _ in deploy_markers()]


@st.cache_data(ttl=10, show_spinner=False)
def deploy_markers() -> list[tuple[str, float]]:
    """(revision, first seen) from the runs, plus deploys entered by hand; in time order."""
    with reading() as s:
        seen = dict(rollup.revision_first_seen(s))
        for rev, ts in store_incidents.list_deploys(s):
            seen[rev] = min(ts, seen.get(rev, ts))
    return sorted(seen.items(), key=lambda r: r[1])


@st.cache_data(ttl=10, show_spinner=False)
def deploy_entries() -> list[dict[str, Any]]:
    with reading() as s:
        return store_incidents.deploy_entries(s)


@st.cache_data(ttl=10, show_spinner=False)
def latest_runs(targets: tuple[str, ...]) -> list[ProbeRun]:
    with reading() as s:
        return rollup.latest_runs(s, targets)


@st.cache_data(ttl=10, show_spinner=False)
def streak_starts(targets_ok: tuple[tuple[str, bool, float | None], ...]) -> dict[str, float | None]:
    with reading() as s:
        return {t: rollup.streak_start(s, t, ok, hour) for t, ok, hour in targets_ok}


@st.cache_data(ttl=10, show_spinner=False)
def hourly(targets: tuple[str, ...], since_ts: float | None, revision: str | None = None) -> pd.DataFrame:
    good_ms = settings().report.slo.threshold_s * 1000.0
    with reading() as s:
        rows = rollup.hourly(s, good_under_ms=good_ms, since_ts=since_ts, targets=targets)
    df = rollups.hourly_frame(rows, rollup.HOURLY_COLUMNS)
    return df if revision is None else df[df["revision"] == revision]


@st.cache_data(ttl=10, show_spinner=False)
def phase_hist(targets: tuple[str, ...], since_ts: float | None, revision: str | None = None) -> pd.DataFrame:
    with reading() as s:
        rows = rollup.phase_histograms(s, since_ts=since_ts, targets=targets)
    df = rollups.phase_frame(rows, rollup.PHASE_COLUMNS)
    return df if revision is None else df[df["revision"] == revision]


@st.cache_data(ttl=10, show_spinner=False)
def runs(targets: tuple[str, ...], since_ts: float | None, revision: str | None = None, failed_only: bool = False,
         limit: int | None = None, until_ts: float | None = None) -> pd.DataFrame:
    """Raw runs of the window as the analysis frame (failed_only uses the partial index on failures)."""
    with reading() as s:
        rows = s.run_rows(COLUMNS, since_ts=since_ts, until_ts=until_ts, targets=targets, failed_only=failed_only, newest=limit)
    df = runs_frame(rows)
    return df if revision is None else df[df["revision"] == revision]


def window_runs(f: Filters, failed_only: bool = False) -> tuple[pd.DataFrame, bool]:
    """Runs of the filtered window. Failures only: clipped to the last RAW_FAILED_LIMIT_S. All runs: nothing for a
    window longer than RAW_LIMIT_S. The flag says so, and the page then takes its answers from the rollups."""
    limit = RAW_FAILED_LIMIT_S if failed_only else RAW_LIMIT_S
    since = f.since_ts
    clipped = f.span_s is None or f.span_s > limit
    if clipped and not failed_only:  # long windows of all runs are answered from the rollups: read nothing
        return runs_frame([]), True
    if clipped:
        since = f.now - limit
    return runs(f.targets, _bucket(since), f.revision, failed_only), clipped


def _bucket(ts: float | None, step: float = 10.0) -> float | None:
    """Round the window start so cached reads are reused between reruns a few seconds apart."""
    return None if ts is None else ts // step * step


@st.cache_data(ttl=10, show_spinner=False)
def recent_ok_runs(targets: tuple[str, ...], revision: str | None, limit: int = 200) -> list[str]:
    """The newest successful run ids (for the waterfall picker), newest first."""
    with reading() as s:
        rows = s.run_rows(("run_id", "outcome", "revision"), targets=targets, newest=limit * 5)
    return [r[0] for r in reversed(rows) if r[1] == "ok" and (revision is None or r[2] == revision)][:limit]


@st.cache_data(ttl=10, show_spinner=False)
def incidents_list() -> list[dict[str, Any]]:
    with reading() as s:
        return store_incidents.list_incidents(s)


def run_detail(run_id: str) -> ProbeRun | None:
    with reading() as s:
        return s.get_run(run_id)


def store_is_empty() -> bool:
    return not target_catalogue()


# ---------------------------------------------------------------- layout helpers

def empty_store_guidance() -> None:
    """What an empty store shows: how to start probes, not a stack trace."""
    st.info(f"No probe runs in the store yet ({db_path()}).")
    st.markdown(
        "Start probes, and runs will appear here within seconds:\n\n"
        "```bash\n"
        "# the whole demo (sandbox + probes + this dashboard)\nbash scripts/demo.sh\n\n"
        "# or probe a backend yourself, every 30 s\n"
        ".venv/bin/python -m probes run --config probes.example.toml --every 30\n"
        "```\n\n"
        "The dashboard reads the store named by `PATHWATCH_DB` (default `data/pathwatch.db`)."
    )


def add_deploy_markers(fig: go.Figure, start_ts: float | None = None, end_ts: float | None = None) -> go.Figure:
    """Dashed vertical lines at each revision change inside the chart's window."""
    for rev, ts in deploy_markers():
        if (start_ts is not None and ts < start_ts) or (end_ts is not None and ts > end_ts):
            continue
        x = pd.Timestamp(ts, unit="s", tz="UTC")
        fig.add_shape(type="line", x0=x, x1=x, y0=0, y1=1, yref="paper", line={"dash": "dash", "width": 1, "color": "#555"})
        fig.add_annotation(x=x, y=1, yref="paper", text=plot_label(short_revision(rev)), showarrow=False, textangle=-90, xanchor="right", yanchor="top",
                           font={"size": 10, "color": "#555"})
    return fig


# ---------------------------------------------------------------- outside text, shown inert
# Revisions, targets, close reasons, signatures, server log lines, URLs GitHub sent back: redacted with the secrets
# of this process (then token shapes), then shown so that nothing in them renders as a link, an image or HTML.

def md(text: Any) -> str:
    """Outside text inside Markdown (st.markdown, captions, alerts): redacted, escaped, one line."""
    return five_whys.escape(str(text), known_secrets())


def code(text: Any) -> str:
    """Outside text as an inline code span in Markdown: redacted, shown exactly, no backslashes."""
    return five_whys.code(str(text), known_secrets())


def shown(text: Any, limit: int) -> str:
    """Outside text for st.code / st.text / tables: redacted, then cut to ``limit``, control characters shown escaped."""
    return printable(clip(str(text), limit, known_secrets()), keep_newlines=True)


def plot_label(text: Any, secrets: tuple[str, ...] | None = None) -> str:
    """Outside text as a plotly label (axis, hover, annotation): plotly reads ``<a href>``, ``<b>``, ... in labels, so the
    markup characters go in as entities, which plotly shows as the characters themselves."""
    said = clip(str(text), 200, known_secrets() if secrets is None else secrets)
    return printable(said).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def plot_labels(values: pd.Series) -> pd.Series:
    """:func:`plot_label` for a column, computed once per distinct value (a chart may carry thousands of runs)."""
    secrets = known_secrets()
    labels = {v: plot_label(v, secrets) for v in values.dropna().unique()}
    return values.map(lambda v: labels.get(v, v))


def link(url: Any) -> str:
    """A Markdown link only to a plain http(s) URL (e.g. the issue GitHub sent back), else the URL as escaped text.

    The URL may hold none of Markdown's link or HTML characters (``[]()<>`` quotes, spaces, ``$``, ``*``), so it is
    safe as its own label.
    """
    text = str(url or "")
    if _PLAIN_URL.fullmatch(text) and text == redact(text, known_secrets()):
        return f"[{text}]({text})"
    return md(text)


_PLAIN_URL = re.compile(r"https?://[A-Za-z0-9._~:/?#@&+,;=%-]+")


def short_revision(rev: str | None) -> str:
    """'netra-backend-staging-00291-abc' -> '00291-abc'."""
    if not rev:
        return "?"
    parts = rev.split("-")
    return "-".join(parts[-2:]) if len(parts) >= 2 else rev


def ts_axis(values: Any) -> pd.Series:
    return pd.to_datetime(pd.Series(values, dtype="float64"), unit="s", utc=True)


def fmt_ts(ts: float | None) -> str:
    if ts is None or pd.isna(ts):
        return "—"
    return pd.Timestamp(ts, unit="s", tz="UTC").strftime("%Y-%m-%d %H:%M:%S UTC")


def fmt_pct(v: float | None) -> str:
    return "—" if v is None or pd.isna(v) else f"{v:.1%}"


def fmt_budget(remaining: float | None) -> str:
    """Budget left; an overspent budget says by how much rather than showing a large negative percentage."""
    if remaining is None or pd.isna(remaining):
        return "—"
    return f"{remaining:.1%}" if remaining >= 0 else f"exhausted ({1 - remaining:.1f}x spent)"


def author() -> str | None:
    """Who writes an annotation: the signed-in user where OIDC login is configured, else the name the writer gives."""
    if oidc_configured():
        if not st.user.is_logged_in:
            st.button("Sign in to edit", on_click=st.login)
            return None
        return str(st.user.get("email") or st.user.get("name") or "signed-in user")
    name = st.text_input("Your name (recorded with your edits)", key="author_name", max_chars=80)
    return name.strip() or None


def oidc_configured() -> bool:
    try:
        return "auth" in st.secrets
    except Exception:  # noqa: BLE001 - no secrets.toml at all is the common case
        return False


def page_header(title: str, caption: str) -> Filters | None:
    """Title, the shared sidebar filters, and the empty-store guidance; None when there is nothing to show."""
    from pages._nav import ensure_routed

    ensure_routed()
    st.title(title)
    try:
        empty = store_is_empty()
        f = None if empty else filters()
    except PathwatchError as exc:
        st.error(f"Pathwatch cannot read its data: {exc}")
        return None
    if read_only():
        st.sidebar.caption("Read-only view: editors are hidden.")
    st.sidebar.caption(f"Store: {db_path()}")
    if f is None:
        empty_store_guidance()
        return None
    st.caption(caption + f" · window {f.range_name}" + (f" · revision {md(f.revision)}" if f.revision else ""))
    return f


def ts_of(run: ProbeRun) -> float:
    from store.sqlite import iso_to_ts

    return iso_to_ts(run.started_at)


def log_source() -> Any:
    from integrations.server_errors import default_source

    return default_source()


SESSION_LOGS_KEY = "pw_session_server_logs"


def _session_logs() -> dict[str, dict[str, Any]]:
    """Server error entries fetched while read-only, kept for this browser session only (by insert id)."""
    return st.session_state.setdefault(SESSION_LOGS_KEY, {})


class _SessionWrites:
    """What ``collect`` writes to while read-only: it reads runs from the read-only store and saves into a private
    in-memory database, so the entries it returns live in the session and the store file is never touched."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def run_rows(self, *args: Any, **kwargs: Any) -> list[tuple[Any, ...]]:
        return self._store.run_rows(*args, **kwargs)

    @contextmanager
    def write(self, doing: str) -> Iterator[Any]:
        with open_store(":memory:") as scratch, scratch.write(doing) as conn:
            yield conn


def collect_server_logs(source: Any, start_ts: float, end_ts: float, **kwargs: Any) -> list[dict[str, Any]]:
    """Fetch the backend's errors for a window and keep them: in the store, or while read-only in this session only."""
    from integrations.server_errors import collect

    with reading() as s:
        if not s.read_only:
            return collect(s, source, start_ts, end_ts, **kwargs)
        rows = collect(_SessionWrites(s), source, start_ts, end_ts, **kwargs)  # type: ignore[arg-type]
    kept = _session_logs()
    for row in rows:
        old = kept.get(row["insert_id"])
        kept[row["insert_id"]] = {**row, "run_id": row["run_id"] or (old or {}).get("run_id")}
    return rows


def _merged(stored_rows: list[dict[str, Any]], wanted: Any) -> list[dict[str, Any]]:
    """Stored rows plus this session's fetched ones that ``wanted`` accepts, one per insert id, in time order."""
    extra = {k: r for k, r in _session_logs().items() if wanted(r)}
    if not extra:
        return stored_rows
    rows = {r["insert_id"]: r for r in stored_rows}
    rows.update({k: r for k, r in extra.items() if k not in rows})
    return sorted(rows.values(), key=lambda r: r["ts"])


def server_logs_for(run: ProbeRun) -> list[dict[str, Any]] | None:
    """Server error entries linked to the run: from the store, else fetched from a local log file on first view
    (Cloud Logging is fetched on request from the Incidents page). None when no log source is configured."""
    from store import server_logs as stored

    source = log_source()
    with reading() as s:
        rows = _merged(stored.for_run(s, run.run_id), lambda r: r["run_id"] == run.run_id)
    if rows or source is None or not source.log_file:
        return rows if (rows or source is not None) else None
    start = ts_of(run)
    collect_server_logs(source, start, start + (run.total_ms or 0.0) / 1000.0, margin_s=5.0)
    with reading() as s:
        return _merged(stored.for_run(s, run.run_id), lambda r: r["run_id"] == run.run_id)


def server_logs_in(start_ts: float, end_ts: float) -> list[dict[str, Any]]:
    from store import server_logs as stored

    with reading() as s:
        return _merged(stored.in_window(s, start_ts, end_ts), lambda r: start_ts <= r["ts"] <= end_ts)


def figure_value(fig: Any) -> str:
    """An impact figure as a manager reads it: '3 h 12 min', '1,200 users', '$4,300'."""
    from analysis.impact import human_duration

    if fig.unit == "min":
        return human_duration(fig.value)
    if fig.unit == "users":
        return f"{fig.value:,.0f} users"
    return f"{fig.unit}{fig.value:,.0f}"


def github_link(incident_id: str) -> str | None:
    from integrations.github import remembered_link

    with reading() as s:
        return remembered_link(s, incident_id)
