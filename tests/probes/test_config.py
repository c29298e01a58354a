"""Config parsing: every mistake names its field; secrets never live in the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from probes.auth import credentials, read_secret
from probes.config import load_config, parse_config, strip_credentials, target_from_url
from probes.errors import ConfigError, SecretError

EXAMPLE = Path(__file__).resolve().parents[2] / "probes.example.toml"


def test_example_config_ships_and_parses():
    targets = load_config(EXAMPLE)
    assert targets and all(t.url.startswith("wss://") or t.url.startswith("ws://") for t in targets)
    staging = targets[0]
    assert staging.auth.claims["iss"] == "netra-auth-service"
    assert staging.health_url and staging.timeouts.total == 120


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({}, "'targets' must be a non-empty array"),
        ({"targets": [{"url": "http://x"}]}, "targets[0].url: must be a ws:// or wss:// URL"),
        ({"targets": [{"url": "ws://x/ws", "deadlines": {"bogus": 1}}]}, "targets[0].deadlines.bogus: not a phase"),
        ({"targets": [{"url": "ws://x/ws", "deadlines": {"welcome": -1}}]}, "targets[0].deadlines.welcome: must be a positive number"),
        ({"targets": [{"url": "ws://x/ws", "auth": {"secret": "oops"}}]}, "targets[0].auth.secret: secrets never go in the config"),
        ({"targets": [{"url": "ws://x/ws", "auth": {"mode": "static"}}]}, "needs token_env or token_file"),
        ({"targets": [{"url": "ws://x/ws", "colour": "red"}]}, "targets[0]: unknown key(s) ['colour']"),
        ({"targets": [{"url": "ws://x/ws", "name": "a"}, {"url": "ws://y/ws", "name": "a"}]}, "target names must be unique"),
        ({"targets": [{"url": "ws://x:99999/ws"}]}, "invalid port"),
    ],
)
def test_bad_config_names_the_field(data, message):  # type: ignore[no-untyped-def]
    with pytest.raises(ConfigError) as err:
        parse_config(data)
    assert message in str(err.value)


def test_invalid_toml_file_is_a_config_error(tmp_path):  # type: ignore[no-untyped-def]
    bad = tmp_path / "bad.toml"
    bad.write_text("[[targets]\nurl = ", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(bad)
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "missing.toml")


def test_defaults_apply_to_every_target():
    targets = parse_config({
        "defaults": {"timeout_s": 30, "deadlines": {"welcome": 5}, "environment": "prod"},
        "targets": [{"url": "ws://a/ws", "name": "a"}, {"url": "ws://b/ws", "name": "b", "deadlines": {"agent_completed": 60}}],
    })
    assert [t.timeouts.total for t in targets] == [30, 30]
    assert targets[1].timeouts.phases == {"welcome": 5, "agent_completed": 60}
    assert {t.environment for t in targets} == {"prod"}


def test_secret_from_env_or_file_and_clear_errors(tmp_path):  # type: ignore[no-untyped-def]
    assert read_secret("X_SECRET", None, "JWT signing secret", {"X_SECRET": "abc"}) == "abc"
    f = tmp_path / "secret"
    f.write_text("from-file\n", encoding="utf-8")
    assert read_secret(None, str(f), "JWT signing secret", {}) == "from-file"
    with pytest.raises(SecretError, match="environment variable X_SECRET is not set"):
        read_secret("X_SECRET", None, "JWT signing secret", {})


def test_minted_jwt_has_the_protocol_claims():
    import jwt

    t = target_from_url("ws://127.0.0.1:1/ws")
    token, secrets = credentials(t.auth, subject="u-1", now=1_700_000_000, environ={"PATHWATCH_JWT_SECRET": "s" * 32})
    claims = jwt.decode(token, "s" * 32, algorithms=["HS256"], options={"verify_exp": False})
    assert claims["sub"] == "u-1" and claims["exp"] - claims["iat"] == 900 and claims["jti"]
    assert secrets == (token, "s" * 32)
    token2, _ = credentials(t.auth, subject="u-1", now=1_700_000_000, environ={"PATHWATCH_JWT_SECRET": "s" * 32})
    assert token2 != token  # fresh jti per run
    assert jwt.get_unverified_header(token) == {"alg": "HS256", "typ": "JWT"}
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(token, "t" * 32, algorithms=["HS256"], options={"verify_exp": False})


def test_public_url_drops_credentials_and_query():
    assert strip_credentials("wss://user:pw@api.example.com:8443/ws?token=abc") == "wss://api.example.com:8443/ws"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"targets": [{"url": "ws://x/ws", "timeout_s": float("nan")}]}, "targets[0].timeout_s: must be a positive number of seconds"),
        ({"targets": [{"url": "ws://x/ws", "timeout_s": float("inf")}]}, "targets[0].timeout_s"),
        ({"targets": [{"url": "ws://x/ws", "timeout_s": 1e12}]}, "at most 86400 (1 day)"),
        ({"targets": [{"url": "ws://x/ws", "deadlines": {"welcome": float("nan")}}]}, "targets[0].deadlines.welcome"),
        ({"targets": [{"url": "ws://[::1"}]}, "targets[0].url: 'ws://[::1' has an invalid host"),
        ({"targets": [{"url": "ws://user:hunter2@[::1/ws"}]}, "'ws://[redacted]@[::1/ws' has an invalid host"),
        ({"targets": [{"url": "ws://x/ws", "auth": {"secret_file": 5}}]}, "targets[0].auth.secret_file: must be a non-empty string, got 5"),
        ({"targets": [{"url": "ws://x/ws", "auth": {"ttl_s": 86401}}]}, "targets[0].auth.ttl_s"),
        ({"targets": [{"url": "ws://x/ws", "headers": {"X-A": "a\r\nB: c"}}]}, "targets[0].headers.X-A"),
    ],
)
def test_hostile_values_name_the_field(data, message):  # type: ignore[no-untyped-def]
    with pytest.raises(ConfigError) as err:
        parse_config(data)
    assert message in str(err.value)
    assert "hunter2" not in str(err.value)


def test_toml_datetime_where_text_belongs_says_so():
    import datetime

    with pytest.raises(ConfigError, match=r"targets\[0\]\.url: .*TOML date/time .*put text in quotes"):
        parse_config({"targets": [{"url": datetime.datetime(2026, 11, 25, 10, tzinfo=datetime.UTC)}]})


@pytest.mark.parametrize(("text", "where", "message"), [
    ("0s", "--chunk", "--chunk '0s': must be more than zero"),
    ("nan", "--since", "--since 'nan': not a duration; use a number and a unit"),
    ("inf", "--since", "--since 'inf'"),
    ("-5m", "--since", "--since '-5m'"),
    ("99999w", "--since", "must be at most 3650d"),
])
def test_bad_durations_name_the_flag(text, where, message):  # type: ignore[no-untyped-def]
    from probes.config import parse_duration

    with pytest.raises(ConfigError) as err:
        parse_duration(text, where)
    assert message in str(err.value)


def test_durations_parse_and_honour_a_minimum():
    from probes.config import parse_duration

    assert parse_duration("90s") == 90 and parse_duration("1.5h") == 5400 and parse_duration("2w") == 14 * 86400
    with pytest.raises(ConfigError, match="at least 1m"):
        parse_duration("30s", "--chunk", min_s=60)


def test_secret_files_bad_bytes_types_and_sizes_are_named_never_shown(tmp_path):  # type: ignore[no-untyped-def]
    binary = tmp_path / "binary"
    binary.write_bytes(b"\xffsecret-ish\xfe")
    with pytest.raises(SecretError, match="is not UTF-8 text") as err:
        read_secret(None, str(binary), "JWT signing secret", {})
    assert str(binary) in str(err.value) and "secret-ish" not in str(err.value)
    huge = tmp_path / "huge"
    huge.write_bytes(b"a" * (64 * 1024 + 1))
    with pytest.raises(SecretError, match="larger than 64 KiB"):
        read_secret(None, str(huge), "JWT signing secret", {})
    with pytest.raises(SecretError, match="file name must be text"):
        read_secret(None, 5, "JWT signing secret", {})  # type: ignore[arg-type]
    with pytest.raises(SecretError, match="environment variable name must be text"):
        read_secret(7, None, "JWT signing secret", {})  # type: ignore[arg-type]
    with pytest.raises(SecretError, match="cannot read file"):
        read_secret(None, str(tmp_path), "JWT signing secret", {})
    padded = tmp_path / "padded"
    padded.write_text("\n  s3cr3t \t\r\n", encoding="utf-8")
    assert read_secret(None, str(padded), "JWT signing secret", {}) == "s3cr3t"
    assert read_secret("X", None, "JWT signing secret", {"X": " s3cr3t\n"}) == "s3cr3t"
    with pytest.raises(SecretError, match="X is not set"):
        read_secret("X", None, "JWT signing secret", {"X": " \n"})
