"""One CLI toolkit (probes.clikit) behind ``python -m probes``, ``analysis`` and ``sandbox``: the same exit codes everywhere.

An unexpected exception exits 3 with one inert line saying what to report (the traceback only with ``--debug``),
never 1, which means "a check failed". The real CLIs run in subprocesses; to make one break for real, the
subprocess breaks a standard-library function it relies on (``sqlite3.connect``, ``asyncio.run``) and then
runs the CLI module exactly as ``python -m`` does. None of our code is replaced.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import store
from probes.clikit import DB_HELP, EXIT_INTERRUPTED, Parser, run_main, subcommands
from probes.errors import ConfigError, PathwatchError, SecretError
from tests.conftest import TEST_SECRET, leaks

#: Runs ``python -m MODULE ARGS`` after making a standard-library call raise an error no Pathwatch code expects.
#: The message carries the signing secret and a terminal escape: both must come out inert.
BREAK_AND_RUN = textwrap.dedent(
    """
    import asyncio, os, runpy, sqlite3, sys
    WHY = "disk on fire\\nforged line \\x1b[31m " + os.environ["PATHWATCH_JWT_SECRET"]
    def connect(*args, **kwargs):
        raise RuntimeError(WHY)
    def run(coro, **kwargs):
        coro.close()
        raise RuntimeError(WHY)
    sqlite3.connect = connect
    asyncio.run = run
    module = sys.argv.pop(1)
    runpy.run_module(module, run_name="__main__", alter_sys=True)
    """
)

#: One command per CLI that reaches the broken call: the probe and analysis open the store, the sandbox serves.
BROKEN = {
    "probes": ("pathwatch", ["run", "--url", "ws://127.0.0.1:1/ws", "--timeout", "2", "--quiet", "--db", "{tmp}/p.db"]),
    "analysis": ("pathwatch", ["report", "--db", "{tmp}/a.db"]),
    "sandbox": ("sandbox", ["--port", "0", "--log-file", "{tmp}/sandbox.log"]),
}


def _run(args: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
                          env={**os.environ, **(env or {})})


def _broken(module: str, tmp_path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    args = [a.replace("{tmp}", str(tmp_path)) for a in BROKEN[module][1]]
    return _run(["-c", BREAK_AND_RUN, module, *args, *extra])


@pytest.mark.parametrize("module", sorted(BROKEN))
def test_an_unexpected_exception_exits_3_with_one_inert_line_and_no_traceback(module: str, tmp_path: Path) -> None:
    p = _broken(module, tmp_path)
    name = BROKEN[module][0]
    assert p.returncode == 3, (p.returncode, p.stderr)
    lines = p.stderr.splitlines()
    assert len(lines) == 1, p.stderr
    assert lines[0].startswith(f"{name}: internal error: RuntimeError: disk on fire\\x0aforged line \\x1b[31m [redacted]"), lines[0]
    assert "please report this with the command you ran (rerun with --debug for the traceback)" in lines[0]
    assert "Traceback" not in p.stderr and "\x1b" not in p.stderr
    assert not leaks(p.stdout + p.stderr), leaks(p.stdout + p.stderr)


@pytest.mark.parametrize(("module", "where"), [("probes", "before"), ("analysis", "after"), ("sandbox", "after")])
def test_debug_adds_the_traceback_still_inert(module: str, where: str, tmp_path: Path) -> None:
    name, args = BROKEN[module]
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    args = ["--debug", *args] if where == "before" else [*args, "--debug"]
    p = _run(["-c", BREAK_AND_RUN, module, *args])
    assert p.returncode == 3, (p.returncode, p.stderr)
    assert "Traceback (most recent call last)" in p.stderr and "RuntimeError: disk on fire" in p.stderr
    assert p.stderr.splitlines()[-1].startswith(f"{name}: internal error: RuntimeError:")
    assert p.stderr.rstrip().endswith("(traceback above)")
    assert "\x1b" not in p.stderr and "[redacted]" in p.stderr
    assert not leaks(p.stdout + p.stderr), leaks(p.stdout + p.stderr)


@pytest.mark.parametrize(("cli", "env", "line"), [
    (["probes", "run", "--url", "ws://127.0.0.1:1/ws", "--no-store", "--users", "0"], {}, "pathwatch: config error: --users: must be at least 1"),
    (["analysis", "report", "--since", "nan", "--db", "{tmp}/a.db"], {}, "pathwatch: config error: --since"),
    (["sandbox", "--port", "70000"], {}, "sandbox: config error: --port: must be from 0 to 65535"),
    (["probes", "run", "--url", "ws://127.0.0.1:1/ws", "--no-store"], {"PATHWATCH_JWT_SECRET": ""},
     "pathwatch: config error: JWT signing secret: environment variable PATHWATCH_JWT_SECRET is not set"),
])
def test_a_config_error_exits_2_in_one_line_even_with_debug(cli: list[str], env: dict[str, str], line: str, tmp_path: Path) -> None:
    p = _run(["-m", *[a.replace("{tmp}", str(tmp_path)) for a in cli], "--debug"], env=env)
    assert p.returncode == 2, (p.returncode, p.stderr)
    assert p.stderr.splitlines() == [p.stderr.strip()] and p.stderr.startswith(line), p.stderr
    assert p.stdout == ""


def test_a_failed_check_exits_1_and_an_error_never_does() -> None:
    p = _run(["-m", "probes", "run", "--url", "ws://127.0.0.1:1/ws", "--no-store", "--timeout", "2"])
    assert p.returncode == 1, p.stderr
    assert "connect_refused" in p.stderr and "internal error" not in p.stderr


def test_python_m_analysis_help_does_not_load_websockets() -> None:
    p = _run(["-X", "importtime", "-m", "analysis", "--help"])
    assert p.returncode == 0 and "report" in p.stdout
    imported = [line.rsplit("|", 1)[-1].strip() for line in p.stderr.splitlines() if line.startswith("import time:")]
    assert "analysis.cli" in imported and "probes.clikit" in imported  # the measurement saw the CLI load
    assert not [m for m in imported if m.split(".")[0] == "websockets"]


def test_the_toolkit_imports_only_the_standard_library_and_probes_errors_and_redact() -> None:
    code = ("import sys\nbefore = set(sys.modules)\nimport probes.clikit\n"
            "print(sorted(m for m in set(sys.modules) - before if m.split('.')[0] not in sys.stdlib_module_names))")
    p = _run(["-c", code])
    assert p.stdout.split() == ["['probes',", "'probes.clikit',", "'probes.errors',", "'probes.redact']"], p.stdout + p.stderr


def test_db_help_states_the_store_convention() -> None:
    assert store.DB_ENV in DB_HELP and str(store.DEFAULT_DB) in DB_HELP


# ---------------------------------------------------------------- run_main with handlers defined here


def _tool() -> argparse.ArgumentParser:
    p = Parser(prog="tool")
    sub = subcommands(p, "command")
    sub.add_parser("go").add_argument("--count", type=int)
    return p


def _raising(exc: BaseException):  # type: ignore[no-untyped-def]
    def handler(args: argparse.Namespace) -> int:
        raise exc
    return handler


@pytest.mark.parametrize("code", [0, 1, 2, 3])
def test_the_handlers_exit_code_is_returned_as_is(code: int) -> None:
    assert run_main(_tool, lambda args: code, ["go"]) == code


@pytest.mark.parametrize(("argv", "debug"), [(["go"], None), (["--debug", "go"], True), (["go", "--debug"], True)])
def test_debug_is_understood_before_or_after_the_subcommand(argv: list[str], debug: bool | None) -> None:
    assert getattr(_tool().parse_args(argv), "debug", None) is debug


@pytest.mark.parametrize(("exc", "code", "line"), [
    (SecretError("token_file: cannot read it"), 2, "pathwatch: config error: token_file: cannot read it"),
    (ConfigError("--since: not a duration"), 2, "pathwatch: config error: --since: not a duration"),
    (PathwatchError("store x.db: cannot open: full"), 3, "pathwatch: store x.db: cannot open: full"),
    (KeyboardInterrupt(), EXIT_INTERRUPTED, "pathwatch: interrupted"),
    (BrokenPipeError(32, "Broken pipe"), 3, "pathwatch: internal error: BrokenPipeError: [Errno 32] Broken pipe — please report"),
    (ValueError("x" * 5000), 3, "pathwatch: internal error: ValueError: " + "x" * 400),
])
def test_each_exception_maps_to_its_exit_code_in_one_line(exc: BaseException, code: int, line: str,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    assert run_main(_tool, _raising(exc), ["go"]) == code
    err = capsys.readouterr().err
    assert err.startswith(line) and err.count("\n") == 1 and len(err) < 800, err


def test_an_exception_that_cannot_be_printed_still_gets_its_line(capsys: pytest.CaptureFixture[str]) -> None:
    class Unprintable(Exception):
        def __str__(self) -> str:
            raise RuntimeError("no")

    assert run_main(_tool, _raising(Unprintable()), ["go"]) == 3
    err = capsys.readouterr().err
    assert "internal error: tests.test_clikit.test_an_exception_that_cannot_be_printed_still_gets_its_line.<locals>.Unprintable" in err
    assert "(its message could not be read)" in err and err.count("\n") == 1


def test_a_usage_error_exits_2_and_shows_the_argument_inert(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        run_main(_tool, lambda args: 0, ["go", "--count", f"\x1b[2J{TEST_SECRET}"])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert "tool go: error: argument --count: invalid int value" in err
    assert "\x1b" not in err and TEST_SECRET not in err and "[redacted]" in err


def test_a_reader_that_closes_stdout_ends_the_command_quietly(tmp_path: Path) -> None:
    """``python -m analysis incidents list | head -1``: the reader leaving is not Pathwatch breaking (141, no message)."""
    code = textwrap.dedent(
        """
        import sys
        from probes.clikit import Parser, run_main
        def handler(args):
            sys.stdin.readline()  # the test closes our stdout, then lets us go on
            for _ in range(100000):
                print("a line of output")
            return 0
        sys.exit(run_main(Parser(prog="tool"), handler, []))
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    proc.stdout.close()
    _, err = proc.communicate("go\n", timeout=30)
    assert proc.returncode == 141 and err == "", (proc.returncode, err)
