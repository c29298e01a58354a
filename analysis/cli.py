"""``python -m analysis``: offline reports and incident detection over the store.

Exit codes: 0 success, 1 the golden path is failing (report: an open incident),
2 usage or config error, 3 Pathwatch itself broke.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from typing import Any

from analysis import five_whys, incidents
from analysis.frame import COLUMNS, runs_frame
from analysis.report import build, iso, parse_duration, to_text
from analysis.settings import settings_from_env
from probes.clikit import Parser, add_db, add_json, run_main, subcommands
from probes.errors import ConfigError, PathwatchError
from probes.redact import clip, known_secrets, printable, redact
from store import incidents as store_incidents
from store import kv, resolve_db_path
from store.sqlite import open_store


def _parser() -> argparse.ArgumentParser:
    p = Parser(prog="python -m analysis", description="Pathwatch analysis over the run store.")
    sub = subcommands(p, "command")
    r = sub.add_parser("report", help="summary of the runs: success, latency, signatures, incidents, deploys, SLO, impact")
    add_db(r)
    r.add_argument("--since", metavar="DURATION", help="only runs this recent (e.g. 24h, 7d)")
    add_json(r)
    inc = sub.add_parser("incidents", help="incident commands")
    isub = subcommands(inc, "action")
    d = isub.add_parser("detect", help="detect incidents in the store and save them (idempotent)")
    add_db(d)
    add_json(d)
    d.add_argument("--full", action="store_true", help="re-read every stored run (default: only since the last detection, minus an hour)")
    d.add_argument("--chunk", metavar="DURATION", default="1d",
                   help="with --full: read this much time of runs at a time (bounds memory; default 1d, at least 1m)")
    ls = isub.add_parser("list", help="list stored incidents")
    add_db(ls)
    add_json(ls)
    mk = isub.add_parser("create", help="declare a manual incident")
    mk.add_argument("--title", required=True)
    mk.add_argument("--start", required=True, metavar="ISO8601", help="e.g. 2026-11-25T10:00:00Z")
    mk.add_argument("--end", metavar="ISO8601")
    mk.add_argument("--target", action="append", default=[])
    add_db(mk)
    lg = sub.add_parser("logs", help="fetch the backend's errors around an incident and print their signatures")
    lg.add_argument("--incident", required=True)
    lg.add_argument("--project", metavar="PROJECT", help="Cloud Logging project (default: $PATHWATCH_GCP_PROJECT)")
    lg.add_argument("--log-file", metavar="PATH", help="read a local JSON-lines log instead (default: $PATHWATCH_SERVER_LOG)")
    lg.add_argument("--service", metavar="NAME", help="Cloud Run service (default: service_name from --config)")
    lg.add_argument("--config", metavar="FILE", help="the probes' TOML config, for each target's service_name")
    add_db(lg)
    add_json(lg)
    pb = sub.add_parser("publish", help="publish an incident to its GitHub issue (one comment, edited in place)")
    pb.add_argument("--incident", required=True)
    pb.add_argument("--repo", required=True, metavar="OWNER/NAME")
    pb.add_argument("--issue", type=int, metavar="N", help="comment on this issue; without it, open an issue (and remember it)")
    add_db(pb)
    dep = sub.add_parser("deploys", help="deploys entered by hand (the runs' own revision changes are found without this)")
    dsub = subcommands(dep, "action")
    da = dsub.add_parser("add", help="record a deploy: a marker on every chart and a row on the Deploys page")
    da.add_argument("--revision", required=True)
    da.add_argument("--at", metavar="ISO8601", help="when it went live (default: now)")
    da.add_argument("--note", default="", help="what changed, in a few words")
    add_db(da)
    dl = dsub.add_parser("list", help="list deploys entered by hand")
    add_db(dl)
    add_json(dl)
    fw = sub.add_parser("five-whys", help="export an incident's five whys as Markdown")
    fw.add_argument("--incident", required=True)
    add_db(fw)
    return p


DETECT_MARK = "incidents_detected_until"
#: The shortest --chunk: a full pass reads the store in (span / chunk) passes, so seconds would mean millions.
MIN_CHUNK_S = 60.0


def _mark(store) -> float | None:  # type: ignore[no-untyped-def]
    raw = kv.get(store, DETECT_MARK)
    return float(raw) if raw else None


def _frame(store, since_s: float | None, now: float):  # type: ignore[no-untyped-def]
    rows = store.run_rows(COLUMNS, since_ts=None if since_s is None else now - since_s)
    return runs_frame(rows)


def _iso_arg(text: str, flag: str) -> float:
    from datetime import datetime

    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except (ValueError, OverflowError, OSError):
        raise ConfigError(f"{flag} {text!r}: use ISO 8601, e.g. 2026-11-25T10:00:00Z") from None


def _detect(store, config, now: float, full_chunk_s: float | None) -> dict[str, int]:  # type: ignore[no-untyped-def]
    """Detect incidents and save them. Incremental by default: from the last detection, minus an hour (and back to
    the start of any incident still open), plus the burn-rate alerts' history. ``full_chunk_s`` re-reads every
    run, as a series of such passes over consecutive time chunks, so memory stays bounded on a large store."""
    stored = store_incidents.list_incidents(store)
    mark = None if full_chunk_s is not None else _mark(store)
    ends: list[float | None] = [None]
    if full_chunk_s is not None:
        first = store.run_rows(("started_ts",), limit=1)
        start = float(first[0][0]) if first else now
        n = max(1, int((now - start) // max(full_chunk_s, 1.0)) + 1)
        ends = [start + (k + 1) * full_chunk_s for k in range(n - 1)] + [None]
    history = incidents.history_s(config.slo, config.incidents)
    added = changed = removed = 0
    latest: dict[str, incidents.Incident] = {}
    for until in ends:
        since = incidents.detect_since(stored, mark)
        read_from = None if since is None else since - history  # burn-rate alerts need their long window before `since`
        rows = store.run_rows(COLUMNS, since_ts=read_from, until_ts=until)
        found = incidents.detect(runs_frame(rows), config.incidents, config.slo, complete_from=read_from)
        if since is not None:  # what starts earlier was stored whole by an earlier pass
            found = [i for i in found if i.start_ts >= since]
        found = incidents.keep_ids(found, stored)
        kept, gone = _superseded(store, stored, found, since, until)
        a, c = store_incidents.upsert_incidents(store, [i.to_dict() for i in found] + kept, iso(now) or "")
        added, changed, removed = added + a, changed + c, removed + gone
        latest.update({i.id: i for i in found})
        stored = store_incidents.list_incidents(store)
        mark = until if until is not None else now
    kv.put(store, DETECT_MARK, repr(now))
    final = [latest[s["id"]] for s in stored if s["id"] in latest]
    return {"incidents": len(final), "added": added, "changed": changed, "removed": removed, "open": sum(i.open for i in final)}


def _superseded(store, stored: list[dict[str, Any]], found: list[incidents.Incident], since: float | None,  # type: ignore[no-untyped-def]
                until: float | None) -> tuple[list[dict[str, Any]], int]:
    """Stored detected incidents in the re-examined range [since, until) that this pass no longer finds (seen on partial runs,
    e.g. an alert's span that a streak on the same target later covered). Unannotated ones are removed (their
    count is returned); one with five whys or a GitHub link is kept, closed and marked superseded (returned for saving)."""
    from integrations.github import link_key

    ids = {i.id for i in found}
    gone = [s for s in stored if s.get("kind") != "manual" and s["id"] not in ids
            and (since is None or float(s["start_ts"]) >= since) and (until is None or float(s["start_ts"]) < until)]
    keep = [s for s in gone if store_incidents.load_five_whys(store, s["id"]) or kv.get(store, link_key(s["id"]))]
    removed = store_incidents.delete_detected(store, [s["id"] for s in gone if s not in keep])
    return [{**s, "superseded": True, "status": "resolved", "end_ts": s["end_ts"] if s.get("end_ts") is not None else s["start_ts"]}
            for s in keep if not s.get("superseded")], removed


def _say(text: str) -> str:
    """Text for a terminal that may quote outside words (signatures, notes, server messages): redacted, one line each."""
    return "\n".join(printable(line) for line in redact(text, known_secrets()).split("\n"))


def _inert(value: Any, secrets: tuple[str, ...] | None = None) -> Any:
    """Every string inside the report made one printable, redacted line, so outside words cannot add a line to the text."""
    secrets = known_secrets() if secrets is None else secrets
    if isinstance(value, str):
        return printable(redact(value, secrets))
    if isinstance(value, dict):
        return {k: _inert(v, secrets) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_inert(v, secrets) for v in value]
    return value


def _print_list(items: list[dict[str, Any]], as_json: bool, line: Callable[[dict[str, Any]], str]) -> int:
    """One JSON array, or one line per item for people (each item exactly one printable line)."""
    if as_json:
        print(json.dumps(items))
    else:
        for item in items:
            print(printable(redact(line(item), known_secrets())))
    return 0


def _logs(store, args: argparse.Namespace, now: float) -> int:  # type: ignore[no-untyped-def]
    from analysis import server_logs
    from integrations.cloud_logging import Skips
    from integrations.server_errors import collect, default_source
    from probes.config import load_config

    inc = store_incidents.get_incident(store, args.incident)
    if inc is None:
        raise ConfigError(f"--incident {args.incident!r}: no such incident (run `python -m analysis incidents detect`)")
    source = default_source(args.project, args.log_file)
    if source is None:
        raise ConfigError("no log source: pass --log-file or --project (or set PATHWATCH_SERVER_LOG / PATHWATCH_GCP_PROJECT)")
    service = args.service
    if service is None and args.config:
        services = {t.name: t.service_name for t in load_config(args.config) if t.service_name}
        wanted = [services[t] for t in inc.get("targets") or services if t in services]
        service = wanted[0] if wanted else None
    end = inc.get("end_ts") if inc.get("end_ts") is not None else now
    skips = Skips(report=lambda line: print(f"pathwatch: {line}", file=sys.stderr))
    rows = collect(store, source, float(inc["start_ts"]), float(end), service=service, revisions=tuple(inc.get("revisions") or ()), skips=skips)
    secrets = known_secrets()
    errors = [server_logs.parse_entry(r["entry"], secrets) for r in rows]
    summary = server_logs.summarise(errors)
    linked = sum(1 for r in rows if r["run_id"])
    if args.json:
        print(json.dumps({"incident": args.incident, "source": source.name, "entries": len(rows), "linked_to_runs": linked,
                          "skipped": skips.count, "skipped_ids": skips.ids, "signatures": summary}))
    else:
        print(_say(f"{len(rows)} server error entries around {args.incident} from {source.name}; {linked} linked to probe runs"
                   + (f"; {skips.count} malformed entries skipped" if skips.count else "")))
        for g in summary:
            print(printable(redact(f"  {g['count']:5d} x {g['signature']}  ({', '.join(g['revisions'])})", secrets)))
    return 0


def _command(args: argparse.Namespace) -> int:
    now = time.time()
    try:
        since_s = parse_duration(args.since, "--since") if getattr(args, "since", None) is not None else None
        chunk_s = parse_duration(args.chunk, "--chunk", min_s=MIN_CHUNK_S) if getattr(args, "full", False) else None
        if getattr(args, "issue", None) is not None and args.issue < 1:
            raise ConfigError(f"--issue: must be an issue number, 1 or more, got {args.issue}")
        config = settings_from_env().report
        with open_store(resolve_db_path(args.db)) as store:
            if args.command == "report":
                report = build(_frame(store, since_s, now), now=now, since_s=since_s, config=config,
                               stored_incidents=store_incidents.list_incidents(store), manual_deploys=store_incidents.list_deploys(store))
                print(json.dumps(report, default=str) if args.json else _say(to_text(_inert(report))), end="\n" if args.json else "")
                return 1 if any(i.get("status") == "open" for i in report["incidents"]) else 0
            if args.command == "incidents" and args.action == "detect":
                summary = _detect(store, config, now, chunk_s)
                print(json.dumps(summary) if args.json else
                      f"{summary['incidents']} incidents ({summary['added']} new, {summary['changed']} updated, {summary['removed']} superseded "
                      f"and removed, {summary['open']} open)")
                return 0
            if args.command == "incidents" and args.action == "list":
                return _print_list(store_incidents.list_incidents(store), args.json,
                                   lambda i: f"{i['id']}  {i['status']:<8} {iso(i['start_ts'])}  {i['signature']}")
            if args.command == "incidents" and args.action == "create":
                start, end = _iso_arg(args.start, "--start"), _iso_arg(args.end, "--end") if args.end else None
                if end is not None and end < start:
                    raise ConfigError(f"--end {args.end!r}: before --start {args.start!r}")
                title = redact(args.title, known_secrets())  # a pasted log line may hold a token: never stored
                inc = incidents.manual("MAN-" + iso(now).replace("-", "").replace(":", "")[:15], title, start, end, tuple(args.target))  # type: ignore[union-attr]
                store_incidents.upsert_incidents(store, [inc.to_dict()], iso(now) or "")
                print(inc.id)
                return 0
            if args.command == "deploys" and args.action == "add":
                if not args.revision.strip() or len(args.revision) > 200:
                    raise ConfigError("--revision: give the deployed revision's name (1 to 200 characters)")
                at = _iso_arg(args.at, "--at") if args.at else now
                store_incidents.add_deploy(store, args.revision.strip(), at, note=clip(args.note, 2000, known_secrets()))
                print(_say(f"deploy {args.revision.strip()} at {iso(at)} recorded"))
                return 0
            if args.command == "deploys" and args.action == "list":
                return _print_list(store_incidents.deploy_entries(store), args.json, lambda d: f"{iso(d['at_ts'])}  {d['revision']}  {d['note']}")
            if args.command == "logs":
                return _logs(store, args, now)
            if args.command == "publish":
                from integrations.github import publish_incident

                settings = settings_from_env()
                res = publish_incident(store, args.incident, args.repo, args.issue, now=now, report_config=settings.report,
                                       dashboard_url=settings.dashboard.public_url)
                print(_say(f"{res.action.replace('_', ' ')}: {res.url}"))
                return 0
            if args.command == "five-whys":
                inc = store_incidents.get_incident(store, args.incident)
                if inc is None:
                    raise ConfigError(f"--incident {args.incident!r}: no such incident (run `python -m analysis incidents detect`)")
                doc = store_incidents.load_five_whys(store, args.incident)
                fw = five_whys.FiveWhys.from_dict(doc) if doc else five_whys.FiveWhys(args.incident)
                print(five_whys.to_markdown(fw, inc.get("title", ""), known_secrets()), end="")
                return 0
    except ConfigError as exc:
        print(f"pathwatch: config error: {printable(redact(str(exc), known_secrets()))}", file=sys.stderr)
        return 2
    except PathwatchError as exc:
        print(f"pathwatch: {printable(redact(str(exc), known_secrets()))}", file=sys.stderr)
        return 3
    return 2


def main(argv: list[str] | None = None) -> int:
    """The exit code of ``python -m analysis ARGS``; :func:`probes.clikit.run_main` maps errors to 2, 3 and 130."""
    return run_main(_parser, _command, argv)
