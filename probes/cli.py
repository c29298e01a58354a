"""``python -m probes``: the cron-facing command. Fast to start, no prompts, clear exit codes.

Exit codes: 0 every run succeeded, 1 a run failed, 2 usage or config error,
3 Pathwatch itself broke (store unwritable or full, probe bug; one line, ``--debug`` for the traceback),
130 interrupted with Ctrl-C during ``--once`` (``--every`` finishes the run in flight and exits 0).
Errors are mapped in one place for every CLI: :func:`probes.clikit.run_main`.

A store that cannot be opened or written does not hide the runs: they are still probed, printed
(``--json``) and written to the Prometheus file (which then says ``pathwatch_store_write_success 0``),
and the command exits 3 naming the database and why.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
import time
from dataclasses import replace

from probes.clikit import EXIT_BROKEN, EXIT_FAILED, EXIT_OK, EXIT_USAGE, Parser, add_db, add_json, add_quiet, run_main, subcommands
from probes.config import Target, load_config, target_from_url
from probes.dialects import DIALECT_NAMES
from probes.errors import ConfigError, PathwatchError
from probes.outcomes import Outcome
from probes.record import ProbeRun
from probes.runner import probe_target
from probes.summary import one_line

#: Most concurrent sessions one probe opens (``--users``): an isolation check, not a load test (use k6 for that).
MAX_USERS = 1000


def _parser() -> argparse.ArgumentParser:
    p = Parser(prog="python -m probes", description="Pathwatch synthetic probes for the golden path.")
    sub = subcommands(p, "command")
    r = sub.add_parser("run", help="probe each target (once by default)")
    src = r.add_mutually_exclusive_group(required=True)
    src.add_argument("--config", metavar="FILE", help="TOML file of targets (see probes.example.toml)")
    src.add_argument("--url", metavar="WS_URL", help="probe one URL without a config file")
    r.add_argument("--target", metavar="NAME", help="with --config: only this target; with --url: its name")
    when = r.add_mutually_exclusive_group()
    when.add_argument("--once", action="store_true", help="run each target once and exit (default)")
    when.add_argument("--every", type=float, metavar="SECONDS", help="loop on a steady schedule until SIGTERM/SIGINT (at most 86400)")
    r.add_argument("--count", type=int, metavar="N", help="with --every: stop after N cycles")
    add_db(r)
    r.add_argument("--no-store", action="store_true", help="do not write runs to the store")
    add_json(r, help="print one JSON object per run on stdout")
    r.add_argument("--timeout", type=float, metavar="SECONDS", help="whole-run deadline (default 120, or the config's; at most 86400)")
    r.add_argument("--users", type=int, default=1, metavar="N",
                   help=f"N concurrent sessions as N distinct users (isolation check; 1 to {MAX_USERS})")
    r.add_argument("--health-url", metavar="URL", help="with --url: where to read the deployed revision")
    r.add_argument("--protocol", choices=DIALECT_NAMES, help="read the server's frames in this dialect (default: the config's, else auto)")
    r.add_argument("--auth-canary", action="store_true", help="also try a wrong token; a server that accepts it makes the run auth_not_enforced")
    r.add_argument("--backend-test-headers", action="store_true",
                   help="send the backend's own X-Test-* headers (they switch its auth bypass on; off by default)")
    r.add_argument("--prom-file", metavar="PATH", help="also write a Prometheus textfile")
    add_quiet(r, help="no per-run lines on stderr")
    r.add_argument("--cloud-logging", action="store_true", help="also write one entry per run to Cloud Logging (log pathwatch-probe)")
    r.add_argument("--project", metavar="PROJECT", help="Google Cloud project (default: $PATHWATCH_GCP_PROJECT)")
    r.add_argument("--otlp", nargs="?", const="", metavar="URL",
                   help="also export each run as an OpenTelemetry trace and metrics over OTLP/HTTP to URL (default: the config's "
                        "[otel] endpoint, $OTEL_EXPORTER_OTLP_ENDPOINT, else http://localhost:4318)")
    sy = sub.add_parser("sync", help="pull probe runs written to Cloud Logging (from any location) into the store")
    sy.add_argument("--project", metavar="PROJECT", help="Google Cloud project (default: $PATHWATCH_GCP_PROJECT)")
    sy.add_argument("--since", metavar="DURATION", default="24h", help="how far back on the first sync (default 24h); later syncs resume")
    add_db(sy)
    add_quiet(sy)
    return p


def _targets(args: argparse.Namespace) -> list[Target]:
    from probes.config import check_seconds

    if args.users < 1:
        raise ConfigError("--users: must be at least 1")
    if args.users > MAX_USERS:
        raise ConfigError(f"--users: at most {MAX_USERS} concurrent sessions, got {args.users}")
    if args.count is not None and args.count < 1:
        raise ConfigError(f"--count: must be at least 1, got {args.count}")
    if args.every is not None:
        check_seconds(args.every, "--every")
    if args.timeout is not None:
        check_seconds(args.timeout, "--timeout")
    if args.url:
        targets = [target_from_url(args.url, name=args.target, health_url=args.health_url, timeout=args.timeout)]
    else:
        targets = _configured(args)
    return _with_flags(targets, args)


def _configured(args: argparse.Namespace) -> list[Target]:
    targets = load_config(args.config)
    if args.target:
        targets = [t for t in targets if t.name == args.target]
        if not targets:
            raise ConfigError(f"--target {args.target!r}: no such target in {args.config}")
    if args.timeout is not None:
        targets = [replace(t, timeouts=replace(t.timeouts, total=args.timeout)) for t in targets]
    return targets


def _with_flags(targets: list[Target], args: argparse.Namespace) -> list[Target]:
    """Flags that override every target's config: --protocol, --backend-test-headers, --auth-canary."""
    if args.protocol:
        targets = [replace(t, protocol=args.protocol) for t in targets]
    if args.backend_test_headers:
        targets = [replace(t, backend_test_headers=True) for t in targets]
    if args.auth_canary:
        if any(t.auth.mode == "none" for t in targets):
            raise ConfigError("--auth-canary: needs auth mode 'jwt' or 'static' (a canary is a wrong token)")
        targets = [replace(t, auth_canary=True) for t in targets]
    return targets


async def _cycle(targets: list[Target], users: int) -> list[ProbeRun]:
    results = await asyncio.gather(*(probe_target(t, users=users) for t in targets))
    return [run for runs in results for run in runs]


def _emit(runs: list[ProbeRun], args: argparse.Namespace, store, sink=None, telemetry=None) -> list[str]:  # type: ignore[no-untyped-def]
    """Save the runs, then report them whatever became of the save; returns what broke (for exit code 3).

    Saving comes first, so a printed run is a stored run whenever the store works; a full or unwritable
    store must not hide the run, so the Cloud Logging entry, the Prometheus file and the JSON lines follow
    either way. The OTLP export comes last and is flushed here, within its short budget; when it fails it says
    so in one line and changes nothing else (not the exit code).
    """
    broken: list[str] = []
    store_ok: bool | None = None
    if store is not None:
        from store.errors import StoreError  # only with a store: --no-store never loads sqlite3

        try:
            store.save_runs(runs)
            store_ok = True
        except StoreError as exc:
            store_ok = False
            broken.append(str(exc))
    if sink is not None:
        try:
            sink.write(runs)
        except PathwatchError as exc:
            broken.append(str(exc))
    if args.prom_file:
        from probes.prom import write_textfile

        try:
            write_textfile(args.prom_file, runs, store_ok=store_ok)
        except OSError as exc:
            why = "a file is in the way of its folder" if isinstance(exc, FileExistsError | NotADirectoryError) else exc.strerror or exc
            broken.append(f"prom file {args.prom_file}: cannot write it ({why})")
    for run in runs:
        if args.json:
            print(json.dumps(run.to_dict(), separators=(",", ":")), flush=True)
        if not args.quiet:
            print(one_line(run), file=sys.stderr, flush=True)
    for problem in broken:
        print(f"pathwatch: {problem}", file=sys.stderr, flush=True)
    if telemetry is not None:
        telemetry.export(runs)
    return broken


class _NoStore:
    """Stands in for a store that could not be opened: every save fails with the reason it could not."""

    def __init__(self, error: PathwatchError) -> None:
        self.error = error

    def save_runs(self, runs: list[ProbeRun]) -> int:
        raise self.error

    def close(self) -> None:
        pass


def _open_store(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    """The store, or a stand-in that reports why it cannot be opened (the runs still happen and are reported)."""
    if args.no_store:
        return None
    from store import resolve_db_path
    from store.errors import StoreError
    from store.sqlite import open_store

    try:
        return open_store(resolve_db_path(args.db))
    except StoreError as exc:
        return _NoStore(exc)


def _sink(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    """The Cloud Logging sink, imported only when asked for: the plain cron path stays lean."""
    if not args.cloud_logging:
        return None
    from services.sync import open_sink

    return open_sink(args.project)


def _telemetry(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    """The OTLP exporter when export is on, else None; OpenTelemetry is imported only in the first case."""
    import os

    from probes.config import load_otel
    from probes.otlp import resolve_export

    otel = load_otel(args.config) if args.config else None
    try:
        settings = resolve_export(args.otlp, otel, os.environ)
    except ConfigError as exc:
        if args.otlp is not None or (otel is not None and otel.endpoint):
            raise  # asked for by name: a bad value is a usage error (exit 2)
        # Only the ambient OTEL_* environment (often set for other software) asked: the probe must still probe.
        print(f"pathwatch: OTLP export off: {exc}", file=sys.stderr, flush=True)
        return None
    if settings is None:
        return None
    from services.telemetry import open_telemetry

    return open_telemetry(settings)


def sync_command(args: argparse.Namespace) -> int:
    from probes.timeutil import parse_duration
    from services.settings import gcp_project
    from services.sync import sync_probe_runs
    from store import resolve_db_path
    from store.sqlite import open_store

    project = gcp_project(args.project)
    since_s = parse_duration(args.since, "--since")
    with open_store(resolve_db_path(args.db)) as store:
        result = sync_probe_runs(store, project, since_ts=time.time() - since_s,
                                 progress=None if args.quiet else lambda m: print(m, file=sys.stderr, flush=True))
    print(json.dumps(result), flush=True)
    return EXIT_OK


def run_command(args: argparse.Namespace) -> int:
    targets = _targets(args)
    sink = _sink(args)
    telemetry = _telemetry(args)
    store = _open_store(args)
    try:
        if args.every is None:
            runs = asyncio.run(_cycle(targets, args.users))
            broken = _emit(runs, args, store, sink, telemetry)
            if broken or any(r.outcome == Outcome.PROBE_ERROR for r in runs):
                return EXIT_BROKEN
            return EXIT_OK if all(r.ok for r in runs) else EXIT_FAILED
        return _loop(targets, args, store, sink, telemetry)
    finally:
        if store is not None:
            store.close()


def _loop(targets: list[Target], args: argparse.Namespace, store, sink=None, telemetry=None) -> int:  # type: ignore[no-untyped-def]
    """Steady schedule: cycle k starts at start + k * every (no drift); a signal ends it after the run in flight.

    A store that fails does not stop the loop (the Prometheus file keeps telling the truth each cycle); the
    exit code is then 3.
    """
    stopping = False
    broken = False

    def stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    previous = {s: signal.signal(s, stop) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        start = time.monotonic()
        cycle = 0
        while not stopping and (args.count is None or cycle < args.count):
            runs = asyncio.run(_cycle(targets, args.users))
            broken = bool(_emit(runs, args, store, sink, telemetry)) or broken
            cycle += 1
            next_at = start + cycle * args.every
            now = time.monotonic()
            if now > next_at:  # a cycle overran: skip the missed slots rather than bunch up
                cycle_slots = int((now - start) // args.every) + 1
                next_at = start + cycle_slots * args.every
            while not stopping and (left := next_at - time.monotonic()) > 0:
                time.sleep(min(left, 0.2))
        return EXIT_BROKEN if broken else EXIT_OK
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def _command(args: argparse.Namespace) -> int:
    if args.command == "run":
        return run_command(args)
    if args.command == "sync":
        return sync_command(args)
    return EXIT_USAGE


def main(argv: list[str] | None = None) -> int:
    """The exit code of ``python -m probes ARGS``; see :mod:`probes.clikit` for how errors map to 2, 3 and 130."""
    return run_main(_parser, _command, argv)
