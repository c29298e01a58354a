"""Failure signatures: failures grouped by what an engineer would call 'the same failure'.

A signature is outcome + failed phase + close code + a time-to-failure band
(+ the server's own error signature when known), described in one sentence.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from probes.redact import clip, printable

#: Upper edges (s after start_agent) of the time-to-failure bands.
TTF_BANDS: tuple[tuple[float, str], ...] = ((1, "<1s"), (5, "1-5s"), (10, "5-10s"), (30, "10-30s"), (60, "30-60s"), (float("inf"), ">60s"))


def ttf_band(ms_after_start: float | None) -> str:
    if ms_after_start is None or np.isnan(ms_after_start):
        return "before_start"
    seconds = ms_after_start / 1000.0
    return next(label for edge, label in TTF_BANDS if seconds < edge)


@dataclass(frozen=True)
class Signature:
    key: str
    outcome: str
    failed_phase: str | None
    close_code: int | None
    ttf_band: str
    server_signature: str | None
    count: int
    total_failures: int
    first_ts: float
    last_ts: float
    first_revision: str | None
    revisions: tuple[str, ...]
    median_ms_after_start: float | None
    close_reason: str | None
    http_status: int | None
    description: str

    def to_dict(self) -> dict[str, object]:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.__dict__.items()}


def _key(outcome: str, phase: str | None, code: int | None, band: str, server: str | None) -> str:
    parts = [outcome, phase or "-", str(code) if code is not None else "-", band]
    if server:
        parts.append(server)
    return "/".join(parts)


def describe(outcome: str, phase: str | None, code: int | None, reason: str | None, http_status: int | None, median_ms: float | None, server: str | None) -> str:
    """The sentence an engineer would write for this failure: one line; the server's words redacted and bounded."""
    reason = _outside(reason, MAX_REASON)
    server = _outside(server, MAX_SERVER)
    after = f"about {median_ms / 1000:.1f} s after start_agent" if median_ms is not None else None
    before = f"before {phase}" if phase else ""
    if outcome == "upgrade_rejected":
        head = f"upgrade rejected with HTTP {http_status}" if http_status else "upgrade rejected"
    elif outcome == "event_timeout":
        head = f"no {phase} arrived before the deadline" + (f" ({after})" if after else "")
        before = ""
    elif code is not None:
        head = f"{code} {reason or ''}".strip() + (f" {after}" if after else "")
    else:
        head = outcome.replace("_", " ") + (f" {after}" if after else "")
    text = ", ".join(x for x in (head, before) if x)
    if server:
        text += f" (server: {server})"
    return text


#: A WebSocket close reason is at most 123 bytes; a server signature at most a line.
MAX_REASON = 200
MAX_SERVER = 300


def _outside(text: str | None, limit: int) -> str | None:
    """Server text inside a sentence: redacted, then cut, on one line with control characters shown escaped."""
    return None if text is None else clip(printable(text), limit)


def _failed(df: pd.DataFrame, server_signatures: Mapping[str, str] | None) -> pd.DataFrame:
    """The failed runs of ``df`` with what their signature is made of: ``band``, ``server`` and ``code_key``."""
    failed = df[~df["ok"]].copy()
    failed["band"] = [ttf_band(v) for v in failed["ms_after_start_agent"].to_numpy()]
    failed["server"] = failed["run_id"].map(server_signatures or {}).astype("object")
    failed["code_key"] = failed["close_code"].astype("object").where(failed["close_code"].notna(), None)
    return failed


def _parts(outcome: object, phase: object, code: object, band: object, server: object) -> tuple[str, str | None, int | None, str, str | None]:
    return (str(outcome), None if pd.isna(phase) else str(phase), None if code is None or pd.isna(code) else int(code), str(band),
            None if server is None or pd.isna(server) else str(server))


def signature_keys(df: pd.DataFrame, server_signatures: Mapping[str, str] | None = None) -> pd.Series:
    """Each failed run's :attr:`Signature.key` (the signature it is counted under), indexed like ``df``."""
    failed = _failed(df, server_signatures)
    cols = [failed[c].to_numpy() for c in ("outcome", "failed_phase", "code_key", "band", "server")]
    return pd.Series([_key(*_parts(*row)) for row in zip(*cols, strict=True)], index=failed.index, dtype="object")


def group_failures(df: pd.DataFrame, server_signatures: Mapping[str, str] | None = None) -> list[Signature]:
    """Signatures of the failed runs in ``df``, most frequent first."""
    failed = _failed(df, server_signatures)
    if failed.empty:
        return []
    total = len(failed)
    out = []
    keys = ["outcome", "failed_phase", "code_key", "band", "server"]
    for group, g in failed.groupby(keys, dropna=False, sort=False):
        outcome, phase, code, band, server = _parts(*group)
        ttf = g["ms_after_start_agent"].dropna()
        median = float(ttf.median()) if len(ttf) else None
        reason = g["close_reason"].dropna().mode()
        status = g["http_status"].dropna()
        revisions = tuple(dict.fromkeys(str(r) for r in g["revision"].dropna()))
        reason_s = str(reason.iloc[0]) if len(reason) else None
        status_i = int(status.iloc[0]) if len(status) else None
        out.append(Signature(
            key=_key(str(outcome), phase, code, str(band), server), outcome=str(outcome), failed_phase=phase, close_code=code,
            ttf_band=str(band), server_signature=server, count=len(g), total_failures=total,
            first_ts=float(g["started_ts"].min()), last_ts=float(g["started_ts"].max()),
            first_revision=revisions[0] if revisions else None, revisions=revisions, median_ms_after_start=median,
            close_reason=reason_s, http_status=status_i,
            description=describe(str(outcome), phase, code, reason_s, status_i, median, server),
        ))
    out.sort(key=lambda s: (-s.count, s.first_ts))
    return out


def sentence(sig: Signature) -> str:
    """The signature with its weight: '...; 212 of 214 failures since <revision>'."""
    since = f" since {sig.first_revision}" if sig.first_revision else ""
    return f"{sig.description}; {sig.count} of {sig.total_failures} failures{since}"
