"""``python -m sandbox``: run the stand-in staging backend until interrupted.

Exit codes (as every Pathwatch CLI, through :func:`probes.clikit.run_main`): 0 stopped by SIGTERM/SIGINT,
2 a bad setting or a port it cannot listen on, 3 the sandbox itself broke (``--debug`` for the traceback).
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import signal
import sys

from probes.clikit import Parser, run_main
from probes.errors import ConfigError
from sandbox.frames import FRAMES
from sandbox.logs import open_log
from sandbox.scenarios import SCENARIOS, get_scenario
from sandbox.server import Sandbox
from sandbox.stories import BUILTIN, load_story, single

SECRET_ENV = "PATHWATCH_JWT_SECRET"
#: --time-scale and --story-scale stay within these: 0.001 runs a scenario a thousand times faster, 1000 slower.
MIN_SCALE, MAX_SCALE = 0.001, 1000.0


def _parser() -> argparse.ArgumentParser:
    p = Parser(prog="python -m sandbox", description="A local stand-in for the staging backend.")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8765, help="0 picks a free port (printed on stderr)")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--scenario", choices=sorted(SCENARIOS), default=None)
    which.add_argument("--story", metavar="NAME_OR_FILE", help=f"built-in: {', '.join(BUILTIN)}; or a JSON/TOML file")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a scenario setting (repeatable)")
    p.add_argument("--time-scale", type=float, default=1.0, help="multiplies every scenario timing (0.1 = ten times faster)")
    p.add_argument("--story-scale", type=float, default=None, help="multiplies story chapter durations (default: --time-scale)")
    p.add_argument("--seed", type=int, default=0, help="seed for flaky and slow_thinking draws")
    p.add_argument("--log-file", default="-", help="JSON-lines log; '-' for stdout (default)")
    p.add_argument("--dialect", choices=sorted(FRAMES), default="netra",
                   help="the frames to speak: netra (the real backend's, default) or generic (the earlier shape)")
    p.add_argument("--demo-mode", action="store_true",
                   help="as the real staging backend in DEMO mode: accept any token, every user is demo-user-001")
    return p


def _overrides(pairs: list[str]) -> dict[str, str]:
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ConfigError(f"--set {pair!r}: expected KEY=VALUE")
        out[key.strip()] = value.strip()
    return out


async def _serve(sandbox: Sandbox, host: str, port: int) -> None:
    await sandbox.start(host, port)
    print(f"sandbox: serving ws://{host}:{sandbox.port}/ws (health: http://{host}:{sandbox.port}/health)", file=sys.stderr, flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await sandbox.stop()


def _command(args: argparse.Namespace) -> int:
    secret = os.environ.get(SECRET_ENV, "")
    try:
        if not secret:
            raise ConfigError(f"{SECRET_ENV} is not set: the sandbox verifies tokens with it (export a random value)")
        if not 0 <= args.port <= 65535:
            raise ConfigError(f"--port: must be from 0 to 65535 (0 picks a free port), got {args.port}")
        for flag, scale in (("--time-scale", args.time_scale), ("--story-scale", args.story_scale)):
            if scale is not None and not (math.isfinite(scale) and scale > 0):
                raise ConfigError(f"{flag}: must be positive and finite, got {scale!r}")
            if scale is not None and not MIN_SCALE <= scale <= MAX_SCALE:
                raise ConfigError(f"{flag}: must be from {MIN_SCALE:g} to {MAX_SCALE:g}, got {scale!r}")
        overrides = _overrides(args.set)
        if args.story:
            if overrides:
                raise ConfigError("--set applies to --scenario; put settings in the story file's 'set' tables")
            story = load_story(args.story)
        else:
            story = single(get_scenario(args.scenario or "healthy", overrides))
        log = open_log(args.log_file, story.service_name)
    except OSError as exc:  # the log file or a story file cannot be opened
        raise ConfigError(str(exc)) from exc
    sandbox = Sandbox(story, secret=secret, log=log, time_scale=args.time_scale, story_scale=args.story_scale, seed=args.seed,
                      dialect=args.dialect, demo_mode=args.demo_mode)
    try:
        asyncio.run(_serve(sandbox, args.host, args.port))
    except OSError as exc:
        raise ConfigError(f"cannot listen on {args.host}:{args.port}: {exc.strerror}") from exc
    return 0


def main(argv: list[str] | None = None) -> int:
    """The exit code of ``python -m sandbox ARGS``; messages start with ``sandbox:`` (it is not the probe)."""
    return run_main(_parser, _command, argv, name="sandbox")


if __name__ == "__main__":
    sys.exit(main())
