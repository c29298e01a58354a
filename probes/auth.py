"""Credentials for one run: a fresh JWT per run (HS256) or a static token.

Secrets come from the environment or a file named in the config, are read at
the moment a run needs them and are never stored, logged or printed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from probes.errors import SecretError

DEFAULT_SECRET_ENV = "PATHWATCH_JWT_SECRET"
DEFAULT_TTL_S = 900
#: The default ``sub``: a fixed UUID, because the real backend accepts only UUID-shaped user ids (and a few listed
#: patterns) and sends no events to any other (shared/types/core_types.py:376-390 at aebb16f7; tests/fixtures/netra/).
DEFAULT_SUBJECT = "dccdd08d-8c6d-5702-81d9-9e4919a2a59a"  # uuid5(NAMESPACE_URL, "pathwatch:synthetic-probe")
AUTH_MODES = ("jwt", "static", "none")
TOKEN_TRANSPORTS = ("header", "subprotocol", "query")


@dataclass(frozen=True)
class AuthConfig:
    mode: str = "jwt"
    secret_env: str = DEFAULT_SECRET_ENV
    secret_file: str | None = None
    token_env: str | None = None
    token_file: str | None = None
    subject: str = DEFAULT_SUBJECT
    ttl_s: int = DEFAULT_TTL_S
    claims: Mapping[str, Any] = field(default_factory=dict)
    transport: str = "header"


#: A secret file larger than this is the wrong file (a key bundle, a log), not a signing secret or a token.
MAX_SECRET_FILE_BYTES = 64 * 1024


def read_secret(env_name: str | None, file_name: str | None, what: str, environ: Mapping[str, str] | None = None) -> str:
    """The secret from the named file, else the named environment variable, with surrounding whitespace stripped.

    Every failure is a SecretError naming the file or variable (never the secret): unreadable, empty, too large,
    not UTF-8 text, or a name that is not text.
    """
    environ = os.environ if environ is None else environ
    for name, kind in ((env_name, "environment variable name"), (file_name, "file name")):
        if name is not None and not isinstance(name, str):
            raise SecretError(f"{what}: the {kind} must be text, got {type(name).__name__}")
    if file_name:
        try:
            with Path(file_name).open("rb") as f:
                raw = f.read(MAX_SECRET_FILE_BYTES + 1)
        except OSError as exc:
            raise SecretError(f"{what}: cannot read file {file_name!r} ({exc.strerror})") from None
        if len(raw) > MAX_SECRET_FILE_BYTES:
            raise SecretError(f"{what}: file {file_name!r} is larger than {MAX_SECRET_FILE_BYTES // 1024} KiB; is it the right file?")
        try:
            value = raw.decode("utf-8").strip()
        except UnicodeDecodeError as exc:
            raise SecretError(f"{what}: file {file_name!r} is not UTF-8 text (byte {exc.start}); save the secret as plain text") from None
        if not value:
            raise SecretError(f"{what}: file {file_name!r} is empty")
        return value
    if env_name:
        value = environ.get(env_name, "").strip()
        if value:
            return value
        raise SecretError(f"{what}: environment variable {env_name} is not set")
    raise SecretError(f"{what}: name an environment variable or a file")


def mint_jwt(secret: str, *, subject: str, now: float, ttl_s: int = DEFAULT_TTL_S, claims: Mapping[str, Any] = ()) -> str:
    """A fresh HS256 token: ``sub``, ``iat``, ``exp``, a unique ``jti``, plus configured claims.

    Signed with the standard library (RFC 7515 compact form, HMAC-SHA256) rather than PyJWT: importing
    PyJWT pulls in ``cryptography`` and doubled the CPU of a cron run. The sandbox verifies these tokens
    with PyJWT, and the tests check that it accepts them.
    """
    body: dict[str, Any] = dict(claims)
    body.update(sub=subject, iat=int(now), exp=int(now) + int(ttl_s), jti=str(uuid.uuid4()))
    signing_input = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode()) + "." + \
        _b64(json.dumps(body, separators=(",", ":")).encode())
    signature = hmac.new(secret.encode(), signing_input.encode("ascii"), hashlib.sha256).digest()
    return signing_input + "." + _b64(signature)


def user_subjects(subject: str, users: int) -> list[str]:
    """``users`` distinct subjects derived from one: UUIDs from a UUID (so the real backend accepts each), else numbered."""
    try:
        base = uuid.UUID(subject)
    except ValueError:
        return [f"{subject}-{i:04d}" for i in range(users)]
    return [str(uuid.uuid5(base, str(i))) for i in range(users)]


def wrong_token(auth: AuthConfig, *, subject: str, now: float) -> str:
    """A token of the right shape that a server checking signatures must refuse: the auth canary's."""
    if auth.mode == "jwt":
        return mint_jwt(secrets.token_urlsafe(32), subject=subject, now=now, ttl_s=auth.ttl_s, claims=auth.claims)
    return "pathwatch-canary-" + secrets.token_urlsafe(24)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def credentials(auth: AuthConfig, *, subject: str, now: float, environ: Mapping[str, str] | None = None) -> tuple[str | None, tuple[str, ...]]:
    """The token for one run and every secret string to redact from what the run records."""
    if auth.mode == "none":
        return None, ()
    if auth.mode == "static":
        token = read_secret(auth.token_env, auth.token_file, "static token", environ)
        return token, (token,)
    secret = read_secret(auth.secret_env, auth.secret_file, "JWT signing secret", environ)
    token = mint_jwt(secret, subject=subject, now=now, ttl_s=auth.ttl_s, claims=auth.claims)
    return token, (token, secret)
