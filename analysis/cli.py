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

from probes.clikit import Parser, add_db, add_json, run_main, subcommands
from probes.errors import ConfigError
from probes.redact import known_secrets, printable, redact
from probes.timeutil import iso, parse_duration, parse_iso_arg
from store import resolve_db_path
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
    nt = sub.add_parser("notify", help="send what is due on the [[alerting.channels]] (incidents detect does this too)")
    nt.add_argument("--test", metavar="CHANNEL", help="send a clearly marked test notification on this channel and show its answer")
    add_db(nt)
    add_json(nt)


    _silences_parser(sub)
    return p


def _silences_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """``silences add|list|expire``: maintenance windows (probes keep probing; nothing is sent while one covers an incident)."""
    sil = sub.add_parser("silences", help="silences and maintenance windows: add, list, expire")
    ssub = subcommands(sil, "action")
    sa = ssub.add_parser("add", help="silence a target or a target group until a time (recorded with who and when)")
    which = sa.add_mutually_exclusive_group()
    which.add_argument("--target", help="the target's name")
    which.add_argument("--group", help="a target group (the probe config's tags.group)")
    sa.add_argument("--until", required=True, metavar="ISO8601", help="when it ends, e.g. 2026-11-25T18:00:00Z (at most 90 days ahead)")
    sa.add_argument("--reason", required=True, help="why, in a few words (shown with every silenced incident)")
    sa.add_argument("--author", help="who (default: $USER, else cli)")
    sa.add_argument("--starts", metavar="ISO8601", help="when it starts (default: now)")
    add_db(sa)
    add_json(sa)
    sl = ssub.add_parser("list", help="list active and scheduled silences (--all: also the ended and expired ones)")
    sl.add_argument("--all", action="store_true", help="also silences that ended or were expired")
    add_db(sl)
    add_json(sl)
    se = ssub.add_parser("expire", help="end a silence now (recorded with who and when; nothing is deleted)")
    se.add_argument("id", metavar="ID", help="the silence's id, e.g. S12")
    se.add_argument("--author", help="who (default: $USER, else cli)")
    add_db(se)
    add_json(se)


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
    from probes.config import load_config
    from services.incidents import require_incident
    from services.server_errors import Skips, collect_incident_errors, service_for
    from services.settings import log_source

    inc = require_incident(store, args.incident)
    source = log_source(args.project, args.log_file)
    if source is None:
        raise ConfigError("no log source: pass --log-file or --project (or set PATHWATCH_SERVER_LOG / PATHWATCH_GCP_PROJECT)")
    service = args.service
    if service is None and args.config:
        service = service_for(inc, {t.name: t.service_name for t in load_config(args.config) if t.service_name})
    got = collect_incident_errors(store, inc, source, now=now, service=service,
                                  skips=Skips(report=lambda line: print(f"pathwatch: {line}", file=sys.stderr)))
    if args.json:
        print(json.dumps({"incident": args.incident, "source": got.source, "entries": len(got.rows), "linked_to_runs": got.linked,
                          "skipped": got.skipped, "skipped_ids": got.skipped_ids, "signatures": got.signatures}))
    else:
        secrets = known_secrets()
        print(_say(f"{len(got.rows)} server error entries around {args.incident} from {got.source}; {got.linked} linked to probe runs"
                   + (f"; {got.skipped} malformed entries skipped" if got.skipped else "")))
        for g in got.signatures:
            print(printable(redact(f"  {g['count']:5d} x {g['signature']}  ({', '.join(g['revisions'])})", secrets)))
    return 0


def _notify_after_detect(store, settings) -> dict[str, Any] | None:  # type: ignore[no-untyped-def]
    """After a detection: send what is due when channels are configured (one line on stderr). A missing channel URL is
    said on stderr and in the JSON, never losing the detection already saved."""
    if not settings.alerting.channels:
        return None
    from services.notify import notify_due

    try:
        res = notify_due(store, settings, now=time.time())
    except ConfigError as exc:
        print(_say(f"pathwatch: notify: {exc}"), file=sys.stderr)
        return {"error": _say(str(exc))}
    print(_say(res.line()), file=sys.stderr)
    return _inert(res.to_dict())


def _notify(store, settings, args: argparse.Namespace, now: float) -> int:  # type: ignore[no-untyped-def]
    """``notify``: 0 when every delivery of the pass went out (or nothing was due), 1 when one failed or the test did."""
    from services import notify as notify_service

    if args.test:
        got = notify_service.send_test(store, settings, args.test, now=now)
        if args.json:
            print(json.dumps({"channel": args.test, "ok": got.ok, "status": got.status, "answer": _say(got.text)}))
        else:
            print(_say(f"{args.test}: {'delivered' if got.ok else 'FAILED'} ({got.status or 'no HTTP status'}): {got.text}"))
        return 0 if got.ok else 1
    if not settings.alerting.channels:
        raise ConfigError("no [[alerting.channels]] in the settings file (PATHWATCH_SETTINGS): nothing to notify")
    res = notify_service.notify_due(store, settings, now=now)
    print(json.dumps(_inert(res.to_dict())) if args.json else _say(res.line()))
    return 1 if res.failed or res.dead else 0


def _silences(store, args: argparse.Namespace, now: float) -> int:  # type: ignore[no-untyped-def]
    """``silences add|list|expire``: one JSON object with ``--json``, else one inert line per silence."""
    from analysis.silences import Silence
    from services import silences as silence_service

    def line(s: Silence) -> str:
        scope = f"target={s.target}" if s.target is not None else f"group={s.group}"
        gone = f" expired by {s.expired_by} at {iso(s.expired_ts)}" if s.expired_ts is not None else ""
        return f"{s.id}  {s.state(now):<9} {scope}  {iso(s.starts_ts)} -> {iso(s.end_ts)}  by {s.author}{gone}: {s.reason}"

    if args.action == "add":
        until = parse_iso_arg(args.until, "--until")
        starts = parse_iso_arg(args.starts, "--starts") if args.starts else None
        s = silence_service.add_silence(store, target=args.target, group=args.group, until_ts=until, reason=args.reason,
                                        author=args.author, starts_ts=starts, now=now)
        print(json.dumps({"silence": _inert(s.to_dict(now))}) if args.json else _say(line(s)))
        return 0
    if args.action == "expire":
        s, ended = silence_service.expire_silence(store, args.id, author=args.author, now=now)
        if args.json:
            print(json.dumps({"silence": _inert(s.to_dict(now)), "expired_now": ended}))
        else:
            print(_say(line(s)))
            if not ended:
                print(_say(f"{s.id} was already over ({s.state(now)}); nothing changed"), file=sys.stderr)
        return 0
    shown = silence_service.all_silences(store)
    if not args.all:
        shown = [s for s in shown if s.state(now) in ("active", "scheduled")]
    if args.json:
        print(json.dumps({"silences": [_inert(s.to_dict(now)) for s in shown]}))
    else:
        for s in shown:
            print(_say(line(s)))
        if not shown:
            print("no active or scheduled silences" + ("" if args.all else " (--all lists the past ones)"), file=sys.stderr)
    return 0


def _command(args: argparse.Namespace) -> int:
    """One command; errors become exit codes in :func:`probes.clikit.run_main`."""
    now = time.time()
    from analysis.report import to_text
    from services import incidents as incident_service
    from services.settings import settings_from_env

    since_s = parse_duration(args.since, "--since") if getattr(args, "since", None) is not None else None
    chunk_s = parse_duration(args.chunk, "--chunk", min_s=incident_service.MIN_CHUNK_S) if getattr(args, "full", False) else None
    if getattr(args, "issue", None) is not None and args.issue < 1:
        raise ConfigError(f"--issue: must be an issue number, 1 or more, got {args.issue}")
    settings = settings_from_env()
    config = settings.report
    with open_store(resolve_db_path(args.db)) as store:
        if args.command == "report":
            from services.report import has_open_incident, summary_report

            report = summary_report(store, config, now=now, since_s=since_s, settings=settings)
            print(json.dumps(report, default=str) if args.json else _say(to_text(_inert(report))), end="\n" if args.json else "")
            return 1 if has_open_incident(report) else 0
        if args.command == "incidents" and args.action == "detect":
            summary = incident_service.detect_incidents(store, config, now=now, full_chunk_s=chunk_s)
            notified = _notify_after_detect(store, settings)
            print(json.dumps(summary.to_dict() | ({"notify": notified} if notified is not None else {})) if args.json else
                  f"{summary.incidents} incidents ({summary.added} new, {summary.changed} updated, {summary.removed} superseded "
                  f"and removed, {summary.open} open)")
            return 0
        if args.command == "notify":
            return _notify(store, settings, args, now)
        if args.command == "incidents" and args.action == "list":
            return _print_list([i.to_doc() for i in incident_service.list_incidents(store)], args.json,
                               lambda i: f"{i['id']}  {i['status']:<8} {iso(i['start_ts'])}  {i['signature']}")
        if args.command == "incidents" and args.action == "create":
            start, end = parse_iso_arg(args.start, "--start"), parse_iso_arg(args.end, "--end") if args.end else None
            if end is not None and end < start:
                raise ConfigError(f"--end {args.end!r}: before --start {args.start!r}")
            inc = incident_service.create_manual_incident(store, args.title, start, end, tuple(args.target), now=now)
            print(inc.id)
            return 0
        if args.command == "deploys" and args.action == "add":
            from services.deploys import record_deploy

            at = parse_iso_arg(args.at, "--at") if args.at else now
            revision = record_deploy(store, args.revision, at, args.note)
            print(_say(f"deploy {revision} at {iso(at)} recorded"))
            return 0
        if args.command == "deploys" and args.action == "list":
            from services.deploys import deploy_entries

            return _print_list(deploy_entries(store), args.json, lambda d: f"{iso(d['at_ts'])}  {d['revision']}  {d['note']}")
        if args.command == "logs":
            return _logs(store, args, now)
        if args.command == "silences":
            return _silences(store, args, now)
        if args.command == "publish":
            from services.publish import publish_incident

            res = publish_incident(store, args.incident, args.repo, args.issue, now=now, settings=settings)
            print(_say(f"{res.action.replace('_', ' ')}: {res.url}"))
            return 0
        if args.command == "five-whys":
            print(incident_service.five_whys_markdown(store, args.incident), end="")
            return 0
    return 2


def main(argv: list[str] | None = None) -> int:
    """The exit code of ``python -m analysis ARGS``; :func:`probes.clikit.run_main` maps errors to 2, 3 and 130."""
    return run_main(_parser, _command, argv)
