"""Links from a run to its trace in the team's tracing UI, and the runs that stand for a failure signature.

Pure: the URL template comes from the settings (``[otel] trace_url``), the trace id from the run (the W3C trace id it
sent in ``traceparent``). A template is an http(s) URL with ``{trace_id}`` where the id goes, e.g.
``https://console.cloud.google.com/traces/list?tid={trace_id}`` (Cloud Trace), ``https://jaeger.example/trace/{trace_id}``
or a Grafana Explore link. The id is checked (32 hex digits) before it is put in, so a link can only ever point where
the template says.
"""

from __future__ import annotations

import re

import pandas as pd

from analysis.signatures import Signature, signature_keys
from probes.tracecontext import is_trace_id

PLACEHOLDER = "{trace_id}"
MAX_TEMPLATE = 2000
#: What a template may hold besides the placeholder: a URL's own characters, none that Markdown or HTML would act on
#: (the same set the pages link; ``!``, ``'`` and ``*`` are percent-encoded: ``%21``, ``%27``, ``%2A``).
_TEMPLATE = re.compile(r"https?://[A-Za-z0-9._~:/?#@&+,;=%-]+")


def template_problem(template: str) -> str | None:
    """Why ``template`` cannot be a trace URL template (for the settings error), or None when it can."""
    if len(template) > MAX_TEMPLATE:
        return f"at most {MAX_TEMPLATE} characters"
    if not template.startswith(("http://", "https://")):
        return "must start with http:// or https://"
    if template.count(PLACEHOLDER) != 1:
        return f"must hold {PLACEHOLDER} exactly once"
    if not _TEMPLATE.fullmatch(template.replace(PLACEHOLDER, "0")):
        return "must be a plain URL (no spaces, quotes, brackets, braces, '!' or '*': percent-encode them, e.g. ' as %27)"
    return None


def trace_url(template: str, trace_id: str | None) -> str | None:
    """The trace's URL in the tracing UI, or None (no template, no trace id, or not a valid one)."""
    if not template or not is_trace_id(trace_id) or template_problem(template):
        return None
    return template.replace(PLACEHOLDER, str(trace_id))


def signature_examples(failed: pd.DataFrame, sig: Signature, server_signatures: dict[str, str] | None = None,
                       limit: int = 3) -> list[str]:
    """The newest run ids of ``failed`` (the runs frame) that make up ``sig``, newest first: its examples."""
    if failed.empty:
        return []
    keys = signature_keys(failed, server_signatures)
    rows = failed.loc[keys.index[keys.to_numpy() == sig.key]]
    return [str(r) for r in rows.sort_values("started_ts", ascending=False)["run_id"].head(limit)]
