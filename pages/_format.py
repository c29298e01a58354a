"""How the pages write things down: times, shares, figures, and outside text shown inert.

Revisions, targets, close reasons, signatures, server log lines, URLs GitHub sent back: redacted with the secrets
of this process (then token shapes), then shown so that nothing in them renders as a link, an image or HTML.
No numbers are computed here; ``analysis`` computes, this module only writes them down.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import pandas as pd

from analysis import five_whys
from probes.redact import clip, known_secrets, printable, redact

OUTCOME_COLOURS = {"ok": "#2e7d32", "server_error": "#c62828", "event_timeout": "#ef6c00", "auth_rejected": "#6a1b9a"}
DASH = "—"


# ---------------------------------------------------------------- outside text, shown inert

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


def trace_link(url: str | None, trace_id: Any) -> str:
    """A run's trace: its id as code, and the link to the tracing UI when a ``[otel] trace_url`` template made one."""
    return f"{code(trace_id)} · {link(url)}" if url else code(trace_id)


_PLAIN_URL = re.compile(r"https?://[A-Za-z0-9._~:/?#@&+,;=%-]+")


def log_text(entry: dict[str, Any], limit: int = 4000) -> str:
    """A server log entry's own text (its traceback) for st.code: redacted before it is cut, control characters shown."""
    from analysis.server_logs import entry_text

    return shown(entry_text(entry, known_secrets()), limit)


def log_signatures(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The stored entries' signatures with counts (``analysis.server_logs.summarise``), parsed with this process's secrets."""
    from analysis.server_logs import parse_entry, summarise

    secrets = known_secrets()
    return summarise(parse_entry(r["entry"], secrets) for r in rows)


def five_whys_markdown(fw: Any, title: str) -> str:
    """The five whys as Markdown, every piece of text people wrote redacted and escaped."""
    return five_whys.to_markdown(fw, title, known_secrets())


def codes(values: Iterable[Any]) -> str:
    """Several outside values as code spans, comma separated; a dash for none."""
    return ", ".join(code(v) for v in values) or DASH


# ---------------------------------------------------------------- times, shares, figures

def short_revision(rev: str | None) -> str:
    """'netra-backend-staging-00291-abc' -> '00291-abc'."""
    if not rev:
        return "?"
    parts = rev.split("-")
    return "-".join(parts[-2:]) if len(parts) >= 2 else rev


def ts_axis(values: Any) -> pd.Series:
    """Epoch seconds as UTC datetimes for a chart axis."""
    return pd.to_datetime(pd.Series(values, dtype="float64"), unit="s", utc=True)


def fmt_ts(ts: float | None) -> str:
    if ts is None or pd.isna(ts):
        return DASH
    return pd.Timestamp(ts, unit="s", tz="UTC").strftime("%Y-%m-%d %H:%M:%S UTC")


def run_time(run: Any) -> str:
    """When a run started (its ISO 8601 ``started_at``), as :func:`fmt_ts` writes times."""
    try:
        return fmt_ts(pd.Timestamp(str(run.started_at)).timestamp())
    except ValueError:
        return shown(run.started_at, 40)


def fmt_pct(v: float | None) -> str:
    return DASH if v is None or pd.isna(v) else f"{v:.1%}"


def fmt_p(p: float | None) -> str:
    return DASH if p is None else f"{p:.2g}"


def fmt_budget(remaining: float | None) -> str:
    """Budget left; an overspent budget says by how much rather than showing a large negative percentage."""
    if remaining is None or pd.isna(remaining):
        return DASH
    return f"{remaining:.1%}" if remaining >= 0 else f"exhausted ({1 - remaining:.1f}x spent)"


def or_dash(value: Any) -> Any:
    """A table cell: the value, or a dash where there is none (never 'None' or 'nan')."""
    return DASH if value is None or (not isinstance(value, str | list | tuple | dict) and pd.isna(value)) else value


def side(counts: dict[str, object]) -> str:
    """One side of a deploy as a caption: 'runs 56, failures 56, success rate 0.0%, dominant failure mode ...'."""
    shown_ = {k.replace("_", " "): fmt_pct(v) if k == "success_rate" else or_dash(v) for k, v in counts.items()}  # type: ignore[arg-type]
    return ", ".join(f"{k} {v}" for k, v in shown_.items())


def figure_value(fig: Any) -> str:
    """An impact figure as a manager reads it: '3 h 12 min', '1,200 users', '$4,300'."""
    from analysis.impact import human_duration

    if fig.unit == "min":
        return human_duration(fig.value)
    if fig.unit == "users":
        return f"{fig.value:,.0f} users"
    return f"{fig.unit}{fig.value:,.0f}"


def signature_table(sigs: Iterable[Any]) -> pd.DataFrame:
    """Failure signatures as a table: times people read, the server's signature or a dash, outside text inert."""
    rows = [{
        "count": s.count, "outcome": s.outcome, "failed phase": or_dash(s.failed_phase), "close code": DASH if s.close_code is None else str(s.close_code),
        "after start_agent": s.ttf_band, "first seen": fmt_ts(s.first_ts), "last seen": fmt_ts(s.last_ts),
        "server signature": shown(s.server_signature, 300) if s.server_signature else DASH, "first revision": or_dash(s.first_revision),
        "close reason": shown(s.close_reason, 200) if s.close_reason else DASH, "key": shown(s.key, 400),
    } for s in sigs]
    return pd.DataFrame(rows)
