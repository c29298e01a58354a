"""Five whys for an incident: why/because pairs with evidence, a root cause, countermeasures, an edit history.

Drafted whys come from the evidence and stay marked as drafts until a person
accepts them. Text people write is data: the Markdown export escapes it so no
HTML, script or ``javascript:`` link in an annotation ever runs anywhere.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from analysis.deploys import Verdict
from analysis.incidents import Incident
from analysis.signatures import Signature
from probes.errors import PathwatchError
from probes.redact import printable, redact

EVIDENCE_KINDS = ("run", "signature", "log", "revision", "link")
COUNTERMEASURE_STATUSES = ("open", "in_progress", "done")
MAX_TEXT = 4000


class AnnotationError(PathwatchError):
    """An annotation that cannot be saved; the message names the field."""


@dataclass
class Evidence:
    kind: str
    ref: str
    note: str = ""


@dataclass
class Why:
    question: str
    answer: str
    evidence: list[Evidence] = field(default_factory=list)
    draft: bool = False


@dataclass
class Countermeasure:
    action: str
    owner: str = ""
    due: str | None = None
    tracking_link: str | None = None
    status: str = "open"


@dataclass
class FiveWhys:
    incident_id: str
    whys: list[Why] = field(default_factory=list)
    root_cause: str = ""
    countermeasures: list[Countermeasure] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> FiveWhys:
        return cls(
            incident_id=d["incident_id"],
            whys=[Why(w["question"], w["answer"], [Evidence(**e) for e in w.get("evidence", [])], bool(w.get("draft"))) for w in d.get("whys", [])],
            root_cause=d.get("root_cause", ""),
            countermeasures=[Countermeasure(**c) for c in d.get("countermeasures", [])],
        )


def validate(fw: FiveWhys) -> None:
    """Raise :class:`AnnotationError` naming the first field that is wrong."""
    def text(value: Any, where: str, required: bool = False) -> None:
        if not isinstance(value, str):
            raise AnnotationError(f"{where}: must be text")
        if required and not value.strip():
            raise AnnotationError(f"{where}: must not be empty")
        if len(value) > MAX_TEXT:
            raise AnnotationError(f"{where}: longer than {MAX_TEXT} characters")

    for i, w in enumerate(fw.whys):
        text(w.question, f"whys[{i}].question", required=True)
        text(w.answer, f"whys[{i}].answer")
        for j, e in enumerate(w.evidence):
            if e.kind not in EVIDENCE_KINDS:
                raise AnnotationError(f"whys[{i}].evidence[{j}].kind: must be one of {list(EVIDENCE_KINDS)}")
            text(e.ref, f"whys[{i}].evidence[{j}].ref", required=True)
            if e.kind == "link" and not re.match(r"https?://", e.ref):
                raise AnnotationError(f"whys[{i}].evidence[{j}].ref: links must start with http:// or https://")
    text(fw.root_cause, "root_cause")
    for i, c in enumerate(fw.countermeasures):
        text(c.action, f"countermeasures[{i}].action", required=True)
        if c.status not in COUNTERMEASURE_STATUSES:
            raise AnnotationError(f"countermeasures[{i}].status: must be one of {list(COUNTERMEASURE_STATUSES)}")
        if c.due and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", c.due):
            raise AnnotationError(f"countermeasures[{i}].due: use YYYY-MM-DD")
        if c.tracking_link and not re.match(r"https?://", c.tracking_link):
            raise AnnotationError(f"countermeasures[{i}].tracking_link: must start with http:// or https://")


def _field(obj: Any, name: str) -> Any:
    """A field of a typed object, or of the plain dict older callers pass (``None`` when absent)."""
    return obj.get(name) if isinstance(obj, Mapping) else getattr(obj, name, None)


def draft_whys(incident: Incident | Mapping[str, Any], signatures: Sequence[Signature | Mapping[str, Any]],
               fix_validations: Sequence[Verdict | Mapping[str, Any]] = ()) -> list[Why]:
    """First whys drafted from the evidence; every one is a draft until a person accepts it.

    Takes the typed objects (an incident document, signature and verdict dicts are still read, for older callers).
    """
    inc = incident if isinstance(incident, Incident) else Incident.from_doc(incident)
    whys = []
    revs = list(inc.revisions)
    since = f" since {revs[0]}" if revs else ""
    share = f"{inc.failed_runs / inc.total_runs:.0%}" if inc.total_runs else "all"
    top = signatures[0] if signatures else None
    whys.append(Why(
        "Why did users get no answer from the agent?",
        f"Because {share} of runs{since} failed: {_field(top, 'description') if top else inc.failure_mode}.",
        [Evidence("signature", str(_field(top, "key")) if top else inc.failure_mode or "unknown"), *[Evidence("run", r) for r in inc.evidence_runs[:3]]],
        draft=True,
    ))
    if top and _field(top, "server_signature"):
        whys.append(Why(
            f"Why did the server fail in {_field(top, 'failed_phase')}?",
            f"Because the backend raised {_field(top, 'server_signature')}.",
            [Evidence("log", str(_field(top, "server_signature")))],
            draft=True,
        ))
    if revs:
        whys.append(Why(
            f"Why did it start at {revs[0]}?",
            f"Because the failures began with revision {revs[0]}; compare it with the revision before.",
            [Evidence("revision", revs[0])],
            draft=True,
        ))
    changed = [v for v in fix_validations if _field(v, "verdict") == "failure_mode_changed"]
    if changed:
        v = changed[0]
        whys.append(Why(
            f"Why did the fix in {_field(v, 'to_revision')} not restore the golden path?",
            f"Because it only changed the failure: {_field(v, 'reason')}.",
            [Evidence("revision", str(_field(v, "to_revision")))],
            draft=True,
        ))
    return whys


def move_why(fw: FiveWhys, index: int, delta: int) -> None:
    """Move one why up (delta -1) or down (+1); out-of-range moves do nothing."""
    j = index + delta
    if 0 <= index < len(fw.whys) and 0 <= j < len(fw.whys):
        fw.whys[index], fw.whys[j] = fw.whys[j], fw.whys[index]


def accept_why(fw: FiveWhys, index: int) -> None:
    """A person accepts a drafted why: it is no longer marked as a draft."""
    fw.whys[index].draft = False


def describe_change(before: FiveWhys | None, after: FiveWhys) -> str:
    """One line for the edit history: what changed between two versions."""
    if before is None:
        return f"created with {len(after.whys)} whys"
    parts = []
    if len(after.whys) != len(before.whys):
        parts.append(f"whys {len(before.whys)} -> {len(after.whys)}")
    elif [w.question for w in after.whys] != [w.question for w in before.whys] or [w.answer for w in after.whys] != [w.answer for w in before.whys]:
        parts.append("whys edited or reordered")
    accepted = sum(1 for w in after.whys if not w.draft) - sum(1 for w in before.whys if not w.draft)
    if accepted > 0:
        parts.append(f"{accepted} draft(s) accepted")
    if sum(len(w.evidence) for w in after.whys) != sum(len(w.evidence) for w in before.whys):
        parts.append("evidence changed")
    if after.root_cause != before.root_cause:
        parts.append("root cause edited")
    if [c.__dict__ for c in after.countermeasures] != [c.__dict__ for c in before.countermeasures]:
        parts.append(f"countermeasures ({len(after.countermeasures)})")
    return "; ".join(parts) or "saved without changes"


#: Markdown punctuation, plus what Streamlit and GitHub add: ``$`` (math), ``:`` (emoji, icons, ``:red[...]``, and the
#: ``http://`` of a bare-URL autolink; ``.`` breaks ``www.`` and e-mail autolinks).
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|>~$:])")
_BACKTICKS = re.compile(r"`+")


#: An invisible character that breaks what GFM turns into a link by itself, after escapes are resolved: ``http://``,
#: ``www.``, ``a@b.c`` (and GitHub's ``@mentions``).
WORD_JOINER = "\u2060"
_AUTOLINK_TRIGGERS = re.compile(r"(?i)(?<=:)(?=//)|(?<=www)(?=\.)|(?<=@)")


def escape(text: str, secrets: Iterable[str] = ()) -> str:
    """Outside text as inert Markdown: redacted, on one line, HTML entities and Markdown punctuation neutralised.

    Redaction comes first: once escaped, a token's ``-`` and ``.`` carry backslashes and no pattern finds it. Bare
    URLs and e-mail addresses get a word joiner: GitHub and Streamlit link them after resolving escapes.
    """
    text = printable(redact(text, secrets).replace("\r\n", " ").replace("\r", " ").replace("\n", " "))
    text = _AUTOLINK_TRIGGERS.sub(WORD_JOINER, text)
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MD_SPECIAL.sub(r"\\\1", text)


def code(text: str, secrets: Iterable[str] = ()) -> str:
    """Outside text as an inline code span: shown exactly as written, with no backslash escapes.

    Inside a code span Markdown, HTML and entities are not interpreted, so nothing needs escaping; the fence is
    one backtick longer than any run of backticks in the text, so the text cannot close it early.
    """
    text = printable(redact(text, secrets).replace("\r\n", " ").replace("\r", " ").replace("\n", " "))
    fence = "`" * (max((len(m) for m in _BACKTICKS.findall(text)), default=0) + 1)
    pad = " " if not text or text[0] in "` " or text[-1] in "` " else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _safe_link(url: str | None, secrets: Iterable[str] = ()) -> str:
    """A link a person attached on purpose: an autolink for plain http(s) URLs, escaped text for anything else."""
    url = redact(url or "", secrets)
    if re.match(r"https?://[^\s<>()\[\]`]+$", url):
        return f"<{url}>"
    return escape(url)


def to_markdown(fw: FiveWhys, title: str = "", secrets: Iterable[str] = ()) -> str:
    """The five whys as Markdown; every piece of text people wrote is redacted and escaped."""
    def t(text: str) -> str:
        return escape(str(text), secrets)

    lines = [f"## Five whys: {t(title or fw.incident_id)}", ""]
    for i, w in enumerate(fw.whys, 1):
        mark = " *(draft)*" if w.draft else ""
        lines.append(f"{i}. **{t(w.question)}**{mark}  ")
        lines.append(f"   {t(w.answer)}")
        for e in w.evidence:
            ref = _safe_link(e.ref, secrets) if e.kind == "link" else t(e.ref)
            lines.append(f"   - {t(e.kind)}: {ref}" + (f" ({t(e.note)})" if e.note else ""))
    lines += ["", f"**Root cause:** {t(fw.root_cause) or '_not yet agreed_'}", ""]
    if fw.countermeasures:
        lines += ["| action | owner | due | status | tracking |", "| --- | --- | --- | --- | --- |"]
        for c in fw.countermeasures:
            lines.append(f"| {t(c.action)} | {t(c.owner)} | {t(c.due or '')} | {t(c.status)} | {_safe_link(c.tracking_link, secrets)} |")
    return "\n".join(lines) + "\n"
