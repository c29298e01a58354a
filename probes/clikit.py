"""One command-line toolkit for ``python -m probes``, ``python -m analysis`` and ``python -m sandbox``.

Every Pathwatch command parses with :class:`Parser`, adds the shared options with :func:`add_db`,
:func:`add_json` and :func:`add_quiet`, and runs its handler through :func:`run_main`, so all of them
end the same way:

    ==== ==================================================================================
    0    success
    1    the thing checked failed (a run failed, an incident is open); never an exception
    2    usage or config error: ``pathwatch: config error: <message naming the field>``
    3    Pathwatch itself broke: a ``PathwatchError`` with its message (store unwritable, ...),
         or an unexpected exception in one line saying what to report (``--debug``: traceback)
    130  interrupted (Ctrl-C): a person stopped the command, Pathwatch did not break, so not 3
    141  stdout's reader went away (``... | head``): nothing broke, nothing more to print
    ==== ==================================================================================

This module sits at the bottom layer: it imports only the standard library, :mod:`probes.errors`
and :mod:`probes.redact`, so ``python -m analysis --help`` does not load websockets and the cron
path (``python -m probes run``) pays for nothing it does not use.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING

from probes.errors import ConfigError, PathwatchError
from probes.redact import clip, known_secrets, printable, redact

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_BROKEN = 0, 1, 2, 3
#: 128 + SIGINT, as a shell reports a command stopped by Ctrl-C.
EXIT_INTERRUPTED = 130
#: 128 + SIGPIPE, as a shell reports a command whose reader closed the pipe.
EXIT_PIPE_CLOSED = 141
#: Longest exception message shown on the one-line internal error (redacted first, then cut).
MAX_MESSAGE = 500
#: The store's convention, spelled out for the help text (store.DB_ENV and store.DEFAULT_DB; store is not imported here).
DB_HELP = "SQLite store (default: $PATHWATCH_DB, else data/pathwatch.db)"

if TYPE_CHECKING:  # annotations only: nothing to pay for at start-up
    from collections.abc import Callable, Sequence

    Handler = Callable[[argparse.Namespace], int]


def _inert(text: str) -> str:
    """Outside text for one stderr line: known secrets and token shapes masked, control characters escaped."""
    return printable(redact(text, known_secrets()))


class Parser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose usage errors exit 2 with inert text, and that knows ``--debug`` at every level.

    ``--debug`` is added to the parser and to each subcommand's parser (pass ``parser_class=Parser``, or use
    :func:`subcommands`), so it may go before or after the subcommand: ``python -m probes run --debug ...``.
    """

    def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        # SUPPRESS: a subcommand's parser must not reset a --debug given before the subcommand.
        self.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                          help="on an internal error, print the full traceback (secrets masked)")

    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        print(f"{self.prog}: error: {_inert(message)}", file=sys.stderr)
        raise SystemExit(EXIT_USAGE)


def subcommands(parser: argparse.ArgumentParser, dest: str, **kwargs) -> argparse._SubParsersAction:  # type: ignore[no-untyped-def,type-arg]
    """Required subcommands whose parsers are :class:`Parser` too (exit 2 on a usage error, ``--debug``)."""
    return parser.add_subparsers(dest=dest, required=True, parser_class=Parser, **kwargs)


def add_db(parser: argparse.ArgumentParser, help: str = DB_HELP) -> None:
    """``--db PATH``; commands resolve it with ``store.resolve_db_path`` (``--db``, else $PATHWATCH_DB, else data/pathwatch.db)."""
    parser.add_argument("--db", metavar="PATH", help=help)


def add_json(parser: argparse.ArgumentParser, help: str = "print one JSON object on stdout; messages for people go to stderr") -> None:
    """``--json``: machine-readable output on stdout and nothing else there."""
    parser.add_argument("--json", action="store_true", help=help)


def add_quiet(parser: argparse.ArgumentParser, help: str = "no progress lines on stderr") -> None:
    """``--quiet``: for cron, where only problems should reach the log."""
    parser.add_argument("--quiet", action="store_true", help=help)


def _type_name(exc: BaseException) -> str:
    kind = type(exc)
    return kind.__qualname__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__qualname__}"


def _message(exc: BaseException) -> str:
    try:
        text = str(exc)
    except Exception:  # an exception whose __str__ itself fails must not hide the first one
        text = "(its message could not be read)"
    return printable(clip(text, MAX_MESSAGE, known_secrets()))


def _traceback(exc: BaseException) -> None:
    import traceback  # only on the --debug path

    text = "".join(traceback.format_exception(exc))
    print(printable(redact(text, known_secrets()), keep_newlines=True), end="", file=sys.stderr, flush=True)


def _reader_gone() -> bool:
    """Whether stdout is a pipe whose reader closed it (poll says POLLERR); a broken socket elsewhere is not that.

    If so, stdout is pointed at /dev/null, so the interpreter's final flush does not fail again on it.
    """
    import select

    try:
        fd = sys.stdout.fileno()
        poller = select.poll()
        poller.register(fd, select.POLLOUT)
        if not any(mask & select.POLLERR for _, mask in poller.poll(0)):
            return False
        os.dup2(os.open(os.devnull, os.O_WRONLY), fd)
        return True
    except (OSError, ValueError, AttributeError):  # no real stdout (closed, replaced by a StringIO)
        return False


def run_main(parser: argparse.ArgumentParser | Callable[[], argparse.ArgumentParser], handler: Handler,
             argv: Sequence[str] | None = None, *, name: str = "pathwatch") -> int:
    """Parse ``argv``, run ``handler(args)`` and return its exit code; map every exception to 2, 3, 130 or 141.

    ``parser`` is a parser or a function that builds one. Usage errors and ``--help`` leave through
    ``SystemExit`` as argparse does (2 and 0). The handler returns 0 or 1 (or 2/3 for problems it reports
    itself); an exception never becomes 1, which means "a check failed".
    """
    debug = "--debug" in (sys.argv[1:] if argv is None else argv)
    try:
        args = (parser() if callable(parser) else parser).parse_args(argv)
        debug = bool(getattr(args, "debug", False))
        return handler(args)
    except ConfigError as exc:  # SecretError is one
        print(f"{name}: config error: {_inert(str(exc))}", file=sys.stderr, flush=True)
        return EXIT_USAGE
    except PathwatchError as exc:
        if debug:
            _traceback(exc)
        print(f"{name}: {_inert(str(exc))}", file=sys.stderr, flush=True)
        return EXIT_BROKEN
    except KeyboardInterrupt:
        print(f"{name}: interrupted", file=sys.stderr, flush=True)
        return EXIT_INTERRUPTED
    except Exception as exc:
        if isinstance(exc, BrokenPipeError) and _reader_gone():
            return EXIT_PIPE_CLOSED
        if debug:
            _traceback(exc)
        where = "(traceback above)" if debug else "(rerun with --debug for the traceback)"
        print(f"{name}: internal error: {printable(_type_name(exc))}: {_message(exc)} — please report this with the command you ran {where}",
              file=sys.stderr, flush=True)
        return EXIT_BROKEN
