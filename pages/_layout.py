"""What every page draws the same way: the header with the filters, the empty-store guidance, time charts with the
deploy markers, and who is writing."""

from __future__ import annotations

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
import streamlit as st

from analysis import failures
from pages import _data as data
from pages._filters import Filters, filters
from pages._format import md, plot_label, short_revision, ts_axis
from probes.errors import PathwatchError


def page_header(title: str, caption: str) -> Filters | None:
    """Title, the shared sidebar filters, and the empty-store guidance; None when there is nothing to show."""
    from pages._nav import ensure_routed

    ensure_routed()
    st.title(title)
    try:
        f = None if data.store_is_empty() else filters()
    except PathwatchError as exc:
        st.error(f"Pathwatch cannot read its data: {exc}")
        return None
    if data.read_only():
        st.sidebar.caption("Read-only view: editors are hidden.")
    st.sidebar.caption(f"Store: {data.db_path()}")
    if f is None:
        empty_store_guidance()
        return None
    st.caption(caption + f" · window {f.range_name}" + (f" · revision {md(f.revision)}" if f.revision else ""))
    return f


def empty_store_guidance() -> None:
    """What an empty store shows: how to start probes, not a stack trace."""
    st.info(f"No probe runs in the store yet ({data.db_path()}).")
    st.markdown(
        "Start probes, and runs will appear here within seconds:\n\n"
        "```bash\n"
        "# the whole demo (sandbox + probes + this dashboard)\nbash scripts/demo.sh\n\n"
        "# or probe a backend yourself, every 30 s\n"
        ".venv/bin/python -m probes run --config probes.example.toml --every 30\n"
        "```\n\n"
        "The dashboard reads the store named by `PATHWATCH_DB` (default `data/pathwatch.db`)."
    )


def deploys_between(start_ts: float | None, end_ts: float | None) -> list[tuple[str, float]]:
    """The revision changes (revision, first seen) inside a chart's window."""
    return [(rev, ts) for rev, ts in data.deploy_markers()
            if (start_ts is None or ts >= start_ts) and (end_ts is None or ts <= end_ts)]


def add_deploy_markers(fig: go.Figure, start_ts: float | None = None, end_ts: float | None = None) -> go.Figure:
    """Dashed vertical lines at each revision change inside the chart's window."""
    for rev, ts in deploys_between(start_ts, end_ts):
        x = pd.Timestamp(ts, unit="s", tz="UTC")
        fig.add_shape(type="line", x0=x, x1=x, y0=0, y1=1, yref="paper", line={"dash": "dash", "width": 1, "color": "#555"})
        fig.add_annotation(x=x, y=1, yref="paper", text=plot_label(short_revision(rev)), showarrow=False, textangle=-90, xanchor="right",
                           yanchor="top", font={"size": 10, "color": "#555"})
    return fig


def time_bars(long: pd.DataFrame, y: str, bucket_s: float, since_ts: float | None, **kwargs: object) -> go.Figure:
    """Bars over time, one per ``bucket`` (epoch seconds, its start), with the deploys since ``since_ts``: each bar
    covers its bucket, and the x axis holds the bars and those deploys, not an empty window around them."""
    marks = deploys_between(since_ts, None)
    fig = px.bar(long.assign(time=ts_axis(long["bucket"]).to_numpy()), x="time", y=y, **kwargs)  # type: ignore[arg-type]
    fig.update_traces(width=bucket_s * 1000.0, offset=0)  # a bar starts at its bucket and is as wide (ms on a time axis)
    span = failures.bucket_span(long["bucket"], bucket_s, [ts for _, ts in marks])
    if span is not None:
        fig.update_xaxes(range=list(ts_axis(span)))
    return add_deploy_markers(fig, since_ts)


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
