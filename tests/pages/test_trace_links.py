"""The dashboard links runs, an incident's evidence runs and failure signatures to their trace through the
``[otel] trace_url`` template (AppTest over a real store); without a template it shows the trace id alone."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from analysis import incidents
from analysis.frame import from_runs
from analysis.report import iso
from probes.record import ProbeRun
from store import incidents as store_incidents
from store.sqlite import open_store
from tests.pages.harness import app_test, open_page, shown_text

TEMPLATE = "https://traces.example/trace/{trace_id}"


def _run(i: int, start: float, ok: bool) -> ProbeRun:
    return ProbeRun(run_id=f"run-{i:03d}", target="staging", url="ws://x/ws", started_at=iso(start + i * 5) or "",
                    outcome="ok" if ok else "server_error", failed_phase=None if ok else "agent_thinking",
                    close_code=None if ok else 1011, close_reason=None if ok else "main mode error",
                    elapsed_ms={"start_agent_sent": 20.0, **({} if ok else {"failure": 7020.0})}, total_ms=100.0 if ok else 7020.0,
                    trace_id=f"{i + 0xabc:032x}", tags={"environment": "staging"})


@pytest.fixture(scope="module")
def traced_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two healthy runs, then six crashes (an incident), all within the last few minutes."""
    start = time.time() - 600
    runs = [_run(i, start, ok=i < 2) for i in range(8)]
    db = tmp_path_factory.mktemp("traced") / "p.db"
    with open_store(db) as s:
        s.save_runs(runs)
        found = incidents.detect(from_runs(runs))
        assert found and found[0].evidence_runs
        store_incidents.upsert_incidents(s, [i.to_dict() for i in found], iso(time.time()) or "")
    return db


def _settings(tmp_path: Path) -> str:
    path = tmp_path / "settings.toml"
    path.write_text(f'[otel]\ntrace_url = "{TEMPLATE}"\n')
    return str(path)


def _url(i: int) -> str:
    return TEMPLATE.replace("{trace_id}", f"{i + 0xabc:032x}")


def test_the_run_detail_links_its_trace(traced_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = open_page(app_test(traced_db, monkeypatch, PATHWATCH_SETTINGS=_settings(tmp_path)), "pages/runs.py")
    assert not at.exception
    newest = next(m.value for m in at.markdown if m.value.startswith("Trace "))
    assert f"[{_url(7)}]({_url(7)})" in newest


def test_the_incident_lists_its_evidence_runs_traces(traced_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = open_page(app_test(traced_db, monkeypatch, PATHWATCH_SETTINGS=_settings(tmp_path)), "pages/incidents.py")
    assert not at.exception
    evidence = [m.value for m in at.markdown if m.value.startswith("- run [") and " · trace " in m.value]
    assert evidence and all(any(f"({_url(i)})" in line for i in range(2, 8)) for line in evidence), evidence
    assert not any(_url(0) in line for line in evidence)  # a healthy run is no evidence


def test_a_failure_signature_links_an_example_trace(traced_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = open_page(app_test(traced_db, monkeypatch, PATHWATCH_SETTINGS=_settings(tmp_path)), "pages/failures.py")
    assert not at.exception
    line = next(m.value for m in at.markdown if "1011" in m.value and "e.g. trace" in m.value)
    assert f"({_url(7)})" in line  # the newest run of the signature


def test_without_a_template_the_trace_id_is_shown_inert(traced_db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = open_page(app_test(traced_db, monkeypatch), "pages/runs.py")
    assert not at.exception
    assert f"Trace `{7 + 0xabc:032x}`" in [m.value for m in at.markdown]
    assert "https://" not in shown_text(at).split("Trace", 1)[1].split("\n", 1)[0]
