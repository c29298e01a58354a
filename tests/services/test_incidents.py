"""``services.incidents``: the edge where stored documents become typed incidents, and the annotation workflow."""

from __future__ import annotations

import json
import secrets
import time

import pytest

from analysis.five_whys import AnnotationError, Countermeasure, FiveWhys, Why
from analysis.incidents import Incident
from analysis.report import ReportConfig
from probes.errors import ConfigError
from services.incidents import (
    create_manual_incident,
    detect_incidents,
    five_whys_markdown,
    get_incident,
    list_incidents,
    load_five_whys,
    save_five_whys,
)
from store import incidents as store_incidents
from store.sqlite import Store

TOKEN = "ghp_" + secrets.token_hex(18)


def test_documents_round_trip_to_the_same_bytes(store: Store) -> None:
    """Reading an incident and saving it again changes nothing stored (detection stays idempotent)."""
    (doc,) = [d for d in store_incidents.list_incidents(store) if d["kind"] == "detected"]
    inc = Incident.from_doc({**doc, "from_a_newer_version": [1, 2]})
    assert json.dumps(inc.to_doc(), sort_keys=True) == json.dumps({**doc, "from_a_newer_version": [1, 2]}, sort_keys=True)
    assert get_incident(store, doc["id"]) == Incident.from_doc(doc) and get_incident(store, "INC-none") is None
    before = [i.to_doc() for i in list_incidents(store)]
    again = detect_incidents(store, ReportConfig(), now=time.time(), full_chunk_s=86400)
    assert again.changed == 0 and again.added == 0 and [i.to_doc() for i in list_incidents(store)] == before


def test_a_manual_incident_is_redacted_and_named_by_its_time(store: Store) -> None:
    now = 1_795_629_822.0
    inc = create_manual_incident(store, f"pasted: Authorization: Bearer {TOKEN}", now - 60, None, ["a"], now=now, secrets=(TOKEN,))
    assert inc.id == "MAN-20261125T180342" and inc.open and inc.targets == ("a",)
    assert TOKEN not in json.dumps(store_incidents.get_incident(store, inc.id))
    with pytest.raises(ConfigError, match="before --start"):
        create_manual_incident(store, "x", now, now - 1, now=now)


def test_five_whys_are_checked_redacted_and_recorded_with_who(store: Store) -> None:
    inc = list_incidents(store)[0]
    fw = FiveWhys(inc.id, [Why("Why?", f"the log said {TOKEN}")], root_cause="r",
                  countermeasures=[Countermeasure("guard", "bob", "2026-12-01")])
    save_five_whys(store, inc.id, fw, "alice", now=1_795_629_822.0, secrets=(TOKEN,))
    kept = load_five_whys(store, inc.id)
    assert kept is not None and TOKEN not in json.dumps(kept.to_dict()) and kept.root_cause == "r"
    assert store_incidents.annotation_history(store, inc.id) == [{"who": "alice", "at": "2026-11-25T18:03:42Z", "what": "created with 1 whys"}]
    with pytest.raises(AnnotationError, match=r"countermeasures\[0\].due"):
        save_five_whys(store, inc.id, FiveWhys(inc.id, countermeasures=[Countermeasure("x", due="soon")]), "alice", now=0)
    with pytest.raises(AnnotationError, match="who"):
        save_five_whys(store, inc.id, fw, "  ", now=0)
    assert "## Five whys" in five_whys_markdown(store, inc.id) and TOKEN not in five_whys_markdown(store, inc.id)
