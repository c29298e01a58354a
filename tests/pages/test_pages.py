"""Every page in Streamlit's AppTest against a store filled by real probe runs of the sandbox's incident story."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from analysis import failures, five_whys, impact, latency, overview
from analysis.frame import COLUMNS, runs_frame
from store import incidents as store_incidents
from store.sqlite import open_store
from tests.conftest import copy_store
from tests.pages.harness import PAGES, app_test, as_read, open_page, shown_text

HOSTILE = '<script>alert("pw")</script><img src=x onerror=alert(1)> [click](javascript:alert(1))'


@pytest.fixture
def app(story_db: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """A fresh app on a private copy of the story store (edits in one test never leak into another)."""
    return app_test(story_db, monkeypatch)


@pytest.fixture
def private_db(story_db: Path, tmp_path: Path) -> Path:
    return copy_store(story_db, tmp_path / "copy.db")


def _frame(db: Path):  # type: ignore[no-untyped-def]
    with open_store(db) as s:
        return runs_frame(s.run_rows(COLUMNS))


def _table(at: AppTest, column: str):  # type: ignore[no-untyped-def]
    """The first dataframe shown that has ``column`` (AppTest keeps no key on read-only dataframes)."""
    return next(d.value for d in at.dataframe if column in d.value.columns)


@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders_without_exception(app: AppTest, page: str) -> None:
    open_page(app, page)
    assert not app.exception, [e.message for e in app.exception]
    assert app.title, "every page has a title"


def test_overview_shows_each_target_and_the_analysis_headline(app: AppTest, story_db: Path) -> None:
    app.run()
    df = _frame(story_db)
    table = _table(app, "status")
    assert sorted(table["target"]) == sorted(df["target"].unique())
    # The last run of the story is healthy on every target: the headline is analysis.overview's sentence for that.
    assert (app.success[0].value if app.success else app.error[0].value) == overview.headline(
        [overview.TargetStatus(t, True, None, None, [], {}, None, None, None) for t in table["target"]])  # type: ignore[arg-type]
    assert set(table["status"]) == {"UP"}


def test_failures_numbers_match_the_analysis(app: AppTest, story_db: Path) -> None:
    app.run()
    app.switch_page("pages/failures.py").run()
    df = _frame(story_db)
    metrics = {m.label: m.value for m in app.metric}
    assert metrics["Runs"] == f"{len(df):,}"
    assert metrics["Success rate"] == f"{failures.success_rate(df).value:.1%}"
    text = shown_text(app)
    assert "1011 main mode error" in text and "before agent_thinking" in text


def test_latency_table_matches_the_analysis(app: AppTest, story_db: Path) -> None:
    app.run()
    app.switch_page("pages/latency.py").run()
    shown = _table(app, "p95")
    expected = latency.phase_percentiles(_frame(story_db)).round(1)
    assert list(shown["phase"]) == list(expected["phase"])
    assert list(shown["p95"]) == pytest.approx(list(expected["p95"]))


def test_deploys_flag_the_silent_stall_trap_and_the_real_fix(app: AppTest) -> None:
    app.run()
    app.switch_page("pages/deploys.py").run()
    errors = "\n".join(e.value for e in app.error)
    assert "**failure_mode_changed**" in errors and "**regressed**" in errors
    assert any("**fixed**" in s.value for s in app.success)


def test_impact_sentence_is_the_analysis_sentence(app: AppTest, story_db: Path) -> None:
    app.run()
    app.switch_page("pages/impact.py").run()
    expected = impact.plain_sentence(impact.impact(_frame(story_db)), "in the last 24h")
    assert any(m.value == f"### {expected}" for m in app.markdown)


def test_filters_change_what_is_shown_and_live_in_the_url(app: AppTest, story_db: Path) -> None:
    app.run()
    one = sorted(_frame(story_db)["target"].unique())[0]
    app.sidebar.multiselect(key="f_targets").set_value([one]).run()
    assert list(_table(app, "status")["target"]) == [one]
    assert app.query_params.get("target") in (one, [one])
    app.switch_page("pages/runs.py").run()
    assert set(_table(app, "run_id")["target"]) == {one}


def test_a_link_with_query_parameters_reproduces_the_view(story_db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = app_test(story_db, monkeypatch)
    one = sorted(_frame(story_db)["target"].unique())[-1]
    at.query_params["target"] = one
    at.run()
    assert at.sidebar.multiselect(key="f_targets").value == [one]
    assert list(_table(at, "status")["target"]) == [one]


def _incident_page(at: AppTest) -> AppTest:
    at.run()
    return at.switch_page("pages/incidents.py").run()


def test_five_whys_editor_saves_and_reloads(private_db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = _incident_page(app_test(private_db, monkeypatch))
    inc_id = at.selectbox(key="inc_pick").value
    key = f"fw_{inc_id}"
    assert any("DRAFT" in m.value for m in at.markdown), "drafted whys are marked as drafts"
    at.button(key=f"{key}_acc0").click().run()
    at.text_area(key=f"{key}_a0").set_value("Because the orchestrator was None at agent_service_core.py:544.").run()
    at.text_area(key=f"{key}_root").set_value("The orchestrator factory returned None after the config change.").run()
    at.button(key=f"{key}_add").click().run()
    at.text_input(key="author_name").set_value("oncall-alice").run()
    at.button(key=f"{key}_save").click().run()
    assert not at.exception
    assert any("Saved by oncall-alice" in as_read(s.value) for s in at.success)

    again = _incident_page(app_test(private_db, monkeypatch))
    assert again.text_area(key=f"{key}_a0").value.endswith("agent_service_core.py:544.")
    assert again.text_area(key=f"{key}_root").value.startswith("The orchestrator factory")
    with open_store(private_db) as s:
        doc = store_incidents.load_five_whys(s, inc_id)
        history = store_incidents.annotation_history(s, inc_id)
    assert doc is not None and doc["whys"][0]["draft"] is False
    assert history[-1]["who"] == "oncall-alice" and "created" in history[-1]["what"]


def test_saving_needs_a_name_and_rejects_bad_fields(private_db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = _incident_page(app_test(private_db, monkeypatch))
    key = f"fw_{at.selectbox(key='inc_pick').value}"
    assert at.button(key=f"{key}_save").disabled
    at.text_input(key="author_name").set_value("bob").run()
    at.text_input(key=f"{key}_q0").set_value("   ").run()
    at.button(key=f"{key}_save").click().run()
    assert any("whys[0].question" in e.value for e in at.error)


def test_read_only_mode_hides_every_editor(private_db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = _incident_page(app_test(private_db, monkeypatch, PATHWATCH_READ_ONLY="1"))
    assert not at.exception
    assert not [b for b in at.button if "save" in str(b.key)]
    assert not at.text_area and not [t for t in at.text_input if t.key and t.key.startswith("fw_")]
    assert any("Five whys" in m.value for m in at.markdown)


def test_hostile_annotation_text_is_shown_as_text(private_db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with open_store(private_db) as s:
        inc_id = store_incidents.list_incidents(s)[0]["id"]
        fw = five_whys.FiveWhys(inc_id, [five_whys.Why(HOSTILE, HOSTILE, [five_whys.Evidence("run", HOSTILE)])], root_cause=HOSTILE)
        store_incidents.save_five_whys(s, inc_id, fw.to_dict(), "mallory", "2026-11-25T00:00:00Z", "hostile")
    at = _incident_page(app_test(private_db, monkeypatch, PATHWATCH_READ_ONLY="1"))
    rendered = "\n".join(m.value for m in at.markdown)
    assert "<script>" not in rendered and "<img" not in rendered and "](javascript:" not in rendered
    assert "&lt;script&gt;" in rendered
    editable = _incident_page(app_test(private_db, monkeypatch))
    assert editable.text_input(key=f"fw_{inc_id}_q0").value == HOSTILE, "inputs hold the raw text, which the browser shows as text"
    assert f"evidence · run: {HOSTILE}" in [t.value for t in editable.text], "evidence is shown with st.text, never as Markdown"


def test_an_empty_store_shows_how_to_start_probes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for page in PAGES:
        at = open_page(app_test(tmp_path / "empty.db", monkeypatch), page)
        assert not at.exception
        assert any("No probe runs" in i.value for i in at.info)
        assert any("python -m probes run" in m.value for m in at.markdown)


def test_a_bad_settings_file_is_named_not_thrown(story_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bad = tmp_path / "settings.toml"
    bad.write_text("[slo]\nobjective = 2\n", encoding="utf-8")
    at = app_test(story_db, monkeypatch, PATHWATCH_SETTINGS=str(bad))
    at.run()
    assert not at.exception
    assert any("slo.objective" in e.value for e in at.error)


def test_a_failed_runs_detail_shows_the_servers_traceback(story_db: Path, story_log: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    df = _frame(story_db)
    crashed = df[df["close_code"] == 1011]["run_id"].iloc[-1]
    at = app_test(story_db, monkeypatch, PATHWATCH_SERVER_LOG=str(story_log))
    at.query_params["run"] = crashed
    at.run()
    at.switch_page("pages/runs.py").run()
    assert not at.exception
    assert any(f"Run {crashed}" in h.value for h in at.subheader)
    signature = "`AttributeError: 'NoneType' object has no attribute 'create_execution_context' at agent_service_core.py:544`"
    assert any(signature in m.value for m in at.markdown), "the signature sits next to the run, as a code span without backslashes"
    assert any("AttributeError" in c.value for c in at.code)


def test_publish_button_shows_the_link(private_db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.fakes.github_api import fake_github

    with fake_github("ghp_pagetest") as gh:
        gh.add_issue("acme/backend", 12)
        at = _incident_page(app_test(private_db, monkeypatch, GITHUB_TOKEN="ghp_pagetest", GITHUB_API_URL=gh.api_url))
        at.text_input(key="gh_repo").set_value("acme/backend").run()
        at.number_input(key="gh_issue").set_value(12).run()
        at.button(key="gh_publish").click().run()
        assert not at.exception
        assert any("Created comment: [https://github.example/acme/backend/issues/12#issuecomment-" in s.value for s in at.success), "a plain https link"
        assert len(gh.comments_on("acme/backend", 12)) == 1
    again = _incident_page(app_test(private_db, monkeypatch))
    assert any("Tracking: [https://github.example/acme/backend/issues/12" in m.value for m in again.markdown)


def test_a_superseded_incident_says_so(private_db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with open_store(private_db) as s:
        inc = store_incidents.list_incidents(s)[0]
        store_incidents.upsert_incidents(s, [{**inc, "superseded": True}], "2026-11-25T00:00:00Z")
    at = _incident_page(app_test(private_db, monkeypatch, PATHWATCH_READ_ONLY="1"))
    table = _table(at, "status").set_index("id")
    assert table.loc[inc["id"], "status"] == "superseded"
