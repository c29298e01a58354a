"""Agreement across locations: a target group (one golden path probed from several places) pages only when at least
``quorum`` of its locations fail in the incident; one location failing alone is that location's problem.

Pure. ``groups`` maps target -> group, ``members`` maps group -> its targets seen recently (each target is one location
of its group), ``locations`` maps target -> the location's name for sentences (default: the target's name).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from analysis.incidents import Incident, incidents_overlap


def needed(quorum: int | None, size: int) -> int:
    """Locations that must fail: ``quorum`` (never more than the group has, so a small group can still page), else 2
    when the group has several locations and 1 when it is alone."""
    if quorum is None:
        return 2 if size > 1 else 1
    return max(1, min(quorum, size))


def _names(items: Sequence[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def held(incidents: Sequence[Incident], members: Mapping[str, Sequence[str]], groups: Mapping[str, str], quorum: int | None,
         *, locations: Mapping[str, str] | None = None) -> dict[str, str]:
    """Incident id -> why it does not page: in no group it touches do at least :func:`needed` locations fail.

    A location counts as failing when it fails in this incident or in another one at the same time (eu crashing while
    us times out is the whole group down, though detection files them as two failure modes). An incident naming no
    target (declared by hand) is never held; nor is one on a group whose quorum is met."""
    where = locations or {}
    out: dict[str, str] = {}
    for inc in incidents:
        if not inc.targets:
            continue
        meanwhile = {t for other in incidents if not other.superseded and incidents_overlap(inc, other) for t in other.targets}
        touched = {groups.get(t, t) for t in inc.targets}
        by_group: dict[str, list[str]] = {}
        for t in sorted(set(inc.targets) | meanwhile):
            if groups.get(t, t) in touched:
                by_group.setdefault(groups.get(t, t), []).append(t)
        reasons = []
        for g, failing in sorted(by_group.items()):
            size = len(set(members.get(g, ())) | set(failing))
            need = needed(quorum, size)
            if len(failing) >= need:
                reasons = []
                break
            names = sorted(where.get(t, t) for t in failing)
            verb = "is" if len(names) == 1 else "are"
            whose = "that location's" if len(names) == 1 else "those locations'"
            reasons.append(f"only {_names(names)} of {g}'s {size} locations {verb} failing (quorum {need}): {whose} problem; not paged")
        if reasons:
            out[inc.id] = "; ".join(reasons)
    return out

