"""W3C trace context (the traceparent every run sends) and the OTLP export settings: what is accepted, what is refused
and how the refusal reads (exit 2, naming the field, never quoting a header value)."""

from __future__ import annotations

import pytest

from probes.cli import main
from probes.config import OtelConfig, parse_config, parse_otel
from probes.errors import ConfigError
from probes.otlp import DEFAULT_ENDPOINT, DEFAULT_SERVICE, parse_headers, resolve_export
from probes.tracecontext import is_trace_id, new_ids, parse_traceparent, trace_of_log, traceparent, tracestate_problem

TID, SID = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"


def test_each_run_gets_fresh_ids_in_the_header_shape() -> None:
    ids = {new_ids() for _ in range(50)}
    assert len(ids) == 50
    for trace_id, span_id in ids:
        assert is_trace_id(trace_id) and len(span_id) == 16
        assert parse_traceparent(traceparent(trace_id, span_id)) == (trace_id, span_id)
    assert traceparent(TID, SID) == f"00-{TID}-{SID}-01"


@pytest.mark.parametrize("value", [
    f"00-{TID}-{SID}-01", f" 00-{TID}-{SID}-00 ", f"01-{TID}-{SID}-01-future-field",
])
def test_a_valid_traceparent_is_read(value: str) -> None:
    assert parse_traceparent(value) == (TID, SID)


@pytest.mark.parametrize("value", [
    None, "", "garbage", f"00-{TID.upper()}-{SID}-01", f"ff-{TID}-{SID}-01", f"00-{'0' * 32}-{SID}-01", f"00-{TID}-{'0' * 16}-01",
    f"00-{TID}-{SID}-01-extra", f"00-{TID[:-1]}-{SID}-01", f"00-{TID}-{SID}", "00-" + "a" * 5000, f"00-{TID}-{SID}-0g",
    f"00-{TID}-{SID}-01\r\nX-Evil: 1",
])
def test_a_malformed_traceparent_is_ignored(value: object) -> None:
    assert parse_traceparent(value) is None


def test_a_log_trace_field_names_the_trace_only_when_valid() -> None:
    assert trace_of_log(f"projects/p/traces/{TID}") == TID
    assert trace_of_log(TID) == TID
    assert trace_of_log("projects/p/traces/not-a-trace") is None
    assert trace_of_log({"x": 1}) is None


def test_tracestate_follows_the_spec() -> None:
    assert tracestate_problem("pathwatch=probe,vendor@sys=a-b") is None
    assert tracestate_problem("Upper=1") is not None
    assert tracestate_problem("a=1,a=2") == "a key appears twice"
    assert tracestate_problem(",".join(f"k{i}=v" for i in range(33))) is not None
    assert tracestate_problem("k=" + "v" * 600) is not None


def test_export_is_off_unless_something_asks_for_it() -> None:
    assert resolve_export(None, None, {}) is None
    assert resolve_export(None, OtelConfig(), {"OTEL_SERVICE_NAME": "x"}) is None


def test_the_endpoint_comes_from_the_flag_then_the_config_then_the_environment() -> None:
    env = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://env:4318/", "OTEL_EXPORTER_OTLP_HEADERS": "x-api-key=s3cr%3Dt,tenant=a"}
    cfg = OtelConfig(endpoint="https://cfg:4318", service_name="from-config", timeout_s=0.25)
    assert resolve_export("http://flag:4318", cfg, env).endpoint == "http://flag:4318"  # type: ignore[union-attr]
    from_cfg = resolve_export("", cfg, env)
    assert from_cfg is not None and (from_cfg.endpoint, from_cfg.service_name, from_cfg.timeout_s) == ("https://cfg:4318", "from-config", 0.25)
    from_env = resolve_export(None, None, {**env, "OTEL_SERVICE_NAME": "svc"})
    assert from_env is not None and (from_env.endpoint, from_env.service_name) == ("http://env:4318", "svc")
    assert dict(from_env.headers) == {"x-api-key": "s3cr=t", "tenant": "a"}
    assert "s3cr" not in repr(from_env)  # headers are secrets
    default = resolve_export("", None, {})
    assert default is not None and (default.endpoint, default.service_name) == (DEFAULT_ENDPOINT, DEFAULT_SERVICE)


def test_bad_headers_name_the_variable_and_the_position_never_the_value() -> None:
    with pytest.raises(ConfigError) as err:
        parse_headers("ok=1,no-equals-sign-s3cret")
    assert "header 2" in str(err.value) and "s3cret" not in str(err.value)


@pytest.mark.parametrize(("table", "message"), [
    ({"endpoint": "ftp://x"}, "otel.endpoint: must be an http:// or https:// URL"),
    ({"timeout_s": 0}, "otel.timeout_s"),
    ({"timeout_s": 60}, "otel.timeout_s"),
    ({"headers": {"x-api-key": "k"}}, "otel.headers: collector headers often hold API keys"),
    ({"tracestate": "Bad Key=1"}, "otel.tracestate"),
    ({"sample": 1}, "otel: unknown key(s) ['sample']"),
])
def test_the_config_otel_table_is_checked(table: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=None) as err:
        parse_otel({"otel": table})
    assert message in str(err.value)


def test_the_config_tracestate_reaches_every_target() -> None:
    targets = parse_config({"otel": {"tracestate": "pw=1"}, "targets": [{"url": "ws://a/ws"}, {"url": "ws://b/ws"}]})
    assert [t.tracestate for t in targets] == ["pw=1", "pw=1"]


@pytest.mark.parametrize(("args", "env", "message"), [
    (["--otlp", "localhost:4318"], {}, "--otlp: must be an http:// or https:// URL"),
    (["--otlp"], {"OTEL_EXPORTER_OTLP_HEADERS": "=hunter2-secret"}, "OTEL_EXPORTER_OTLP_HEADERS: header 1"),
    (["--otlp"], {"OTEL_EXPORTER_OTLP_ENDPOINT": "not a url"}, "OTEL_EXPORTER_OTLP_ENDPOINT: must be an http:// or https:// URL"),
])
def test_bad_export_settings_exit_2_naming_the_field(args: list[str], env: dict[str, str], message: str, capsys: pytest.CaptureFixture[str],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    assert main(["run", "--url", "ws://127.0.0.1:1/ws", "--no-store", *args]) == 2
    err = capsys.readouterr().err
    assert message in err and "hunter2" not in err and "Traceback" not in err


def test_an_ambient_otel_environment_that_is_wrong_turns_export_off_and_the_probe_still_probes(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """OTEL_* may be set for other software on the host: only --otlp or [otel] endpoint make a bad value an error."""
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "not a url")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", "api-key=hunter2-secret,")
    assert main(["run", "--url", "ws://127.0.0.1:1/ws", "--no-store"]) == 1  # the run happened (and found nothing listening)
    err = capsys.readouterr().err
    assert "pathwatch: OTLP export off: OTEL_EXPORTER_OTLP_ENDPOINT: must be an http:// or https:// URL" in err
    assert "hunter2" not in err and "Traceback" not in err
    assert dict(parse_headers("api-key=abc,")) == {"api-key": "abc"}, "a trailing comma is skipped, as the SDK does"
