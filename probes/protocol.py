"""Golden-path wire messages (see shared/PROTOCOL.md): names, builders, parsing.

Pure: no sockets, no clock. Shared by the probe and the sandbox so that the two
can never drift apart on a field name. How each backend spells a frame is data
in :mod:`probes.dialects`; this module turns a frame into one canonical
:class:`Message` under the dialect it matches.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from probes import jsonsafe
from probes.dialects import AUTO, DIALECTS, EVIDENCE, lookup, match

START_AGENT = "start_agent"

#: Close codes of the protocol, by name.
CLOSE_NORMAL = 1000
CLOSE_GOING_AWAY = 1001
CLOSE_UNSUPPORTED_DATA = 1003
CLOSE_ABNORMAL = 1006
CLOSE_POLICY_VIOLATION = 1008
CLOSE_INTERNAL_ERROR = 1011
CLOSE_SERVICE_RESTART = 1012

#: The header that carries the probe's run id on the upgrade, for the backend's logs and Pathwatch's correlation.
#: Its name holds neither "test" nor "e2e": on the real backend any header whose name does switches on an
#: auth bypass that skips the JWT signature check (unified_websocket_auth.py:98-111), and a probe must not.
HEADER_RUN_ID = "X-Pathwatch-Run"
#: The headers the backend's own staging tests send (tests/e2e/staging_test_config.py:123-138). They turn the
#: E2E auth bypass on, so Pathwatch sends them only for a target that sets ``backend_test_headers = true``.
HEADER_TEST_TYPE = "X-Test-Type"
HEADER_TEST_ENVIRONMENT = "X-Test-Environment"
HEADER_TEST_SESSION = "X-Test-Session"
#: Headers, in order of preference, that carry a probe's run id in a backend's logs.
RUN_ID_HEADERS: tuple[str, ...] = (HEADER_RUN_ID, HEADER_TEST_SESSION)


def backend_test_headers(environment: str, run_id: str) -> dict[str, str]:
    """The backend's own E2E-test headers: opt-in only, since they switch its auth bypass on."""
    return {HEADER_TEST_TYPE: "E2E", HEADER_TEST_ENVIRONMENT: environment, HEADER_TEST_SESSION: run_id}


def bypasses_auth(header_name: str) -> bool:
    """Whether the real backend's E2E bypass fires on a header with this name (a substring match)."""
    name = header_name.lower()
    return "test" in name or "e2e" in name


#: Subprotocol prefixes for clients that cannot set an Authorization header (websocket_ssot.py:752-767).
JWT_SUBPROTOCOL_PREFIX = "jwt."
JWT_SUBPROTOCOL_PREFIXES: tuple[str, ...] = ("jwt.", "jwt-auth.", "bearer.")


class MessageError(ValueError):
    """A text frame that is not a golden-path message (not JSON, not an object, no type)."""


@dataclass(frozen=True, slots=True)
class Message:
    """One server frame read under its dialect. ``type`` is the canonical kind; ``wire_type`` what was sent."""

    type: str
    wire_type: str
    dialect: str | None
    thread_id: str | None
    run_id: str | None
    user_id: str | None
    error_code: str | None
    error_message: str | None
    error_type: str | None
    #: The frame says it is a re-send (``attempt``), so a repeat of an event already received is evidence.
    retry: bool
    raw: dict[str, Any]

    @property
    def known(self) -> bool:
        return self.dialect is not None

    @property
    def error_text(self) -> str:
        """The frame's error as ``CODE: text`` (either part may be missing)."""
        text = self.error_message or ""
        if self.error_type and self.error_type not in text:
            text = f"{text} ({self.error_type})" if text else self.error_type
        return f"{self.error_code}: {text}" if self.error_code else text


def parse_message(text: str, dialect: str = AUTO) -> Message:
    """Parse a text frame under the dialect it matches; raise :class:`MessageError` naming what is wrong.

    A frame whose type no candidate dialect knows comes back with ``dialect=None`` for the caller to judge.
    """
    try:
        obj = jsonsafe.loads(text)
    except jsonsafe.UnsafeJson as exc:
        raise MessageError(f"message refused: {exc}") from exc
    except (ValueError, RecursionError) as exc:  # JSONDecodeError, and json's own limits (a number of over 4300 digits)
        raise MessageError(f"message is not valid JSON ({exc.__class__.__name__})") from exc
    if not isinstance(obj, dict):
        raise MessageError(f"message is JSON {type(obj).__name__}, not an object")
    kind = obj.get("type")
    if not isinstance(kind, str) or not kind:
        raise MessageError("message has no string 'type' field")
    d = match(obj, kind, dialect)
    if d is None:
        return Message(kind, kind, None, None, None, None, None, None, None, False, obj)
    return Message(
        type=d.types.get(kind, EVIDENCE),
        wire_type=kind,
        dialect=d.name,
        thread_id=_text(lookup(obj, d.thread_id)),
        run_id=_text(lookup(obj, d.run_id)),
        user_id=_text(lookup(obj, d.user_id)),
        error_code=_text(lookup(obj, d.error_code)),
        error_message=_text(lookup(obj, d.error_text)),
        error_type=_text(lookup(obj, d.error_type)),
        retry=lookup(obj, d.retry) is not None,
        raw=obj,
    )


def _text(value: object) -> str | None:
    if isinstance(value, str) and value:
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return None


def is_auth_error(message: Message) -> bool:
    """Whether an error frame says the token was refused."""
    code = (message.error_code or "").upper()
    dialect = DIALECTS.get(message.dialect or "")
    return bool(code) and ("AUTH" in code or (dialect is not None and code in dialect.auth_error_codes))


def start_agent_message(*, user_id: str, thread_id: str, timestamp: str, user_request: str) -> str:
    """The ``start_agent`` frame a client sends after the welcome.

    Exactly the backend's staging tests' shape (tests/e2e/staging/test_3_agent_pipeline_staging.py:270-278);
    the handler reads ``thread_id`` from ``payload`` or the top level (ssot_agent_message_handler.py:227).
    """
    return json.dumps(
        {
            "type": START_AGENT,
            "payload": {"user_request": user_request, "user_id": user_id},
            "thread_id": thread_id,
            "timestamp": timestamp,
        }
    )
