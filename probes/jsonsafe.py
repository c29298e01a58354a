"""JSON from outside, parsed without letting it choose our stack depth or our memory.

``json.loads`` recurses once per nesting level, so ``[[[[...]]]]`` 100,000 deep ends in a
``RecursionError`` (or, in a thread with a small stack, worse) before it says anything useful.
:func:`loads` measures the nesting first, with a linear scan that skips string contents, and
refuses text deeper than ``max_depth`` with :class:`JsonTooDeep` before ``json`` recurses at all.

Cost of the scan (``python -m bench flood``, bench/RESULTS.md section 6; 2 cores, Python 3.11): none
for text with at most ``max_depth`` opening brackets (two ``str.count`` calls); on 1 MB inputs about
5 ms for 8,000 records, 7 ms for ``[],[],...``, 2 ms to refuse 100,000 levels, and 30-45 ms for the
slowest shape found, 8-deep arrays side by side (``json.loads`` itself needs 160 ms for that one).
"""

from __future__ import annotations

import json
import operator
import re
from itertools import accumulate
from typing import Any

#: Deepest nesting accepted by default: golden-path messages and health bodies are 2-4 levels deep.
MAX_DEPTH = 64

#: Quotes and brackets are kept (brackets as b"(" and b")"); every other byte is dropped.
_MARKS = bytes.maketrans(b"[{]}", b"(())")
_NOT_MARK = bytes(b for b in range(256) if b not in b'"[]{}')
#: A string left after empty ones are gone; the closing quote is optional so an unterminated string is
#: consumed once to the end (linear) instead of being retried from every quote.
_STRING = re.compile(rb'"[^"]*"?')
_RUNS = re.compile(rb"\(+|\)+")


class UnsafeJson(ValueError):
    """JSON from outside that Pathwatch refuses to parse (too deep or too big); a ValueError like bad JSON."""


class JsonTooDeep(UnsafeJson):
    """Nesting beyond the limit: refused before any recursion."""


class JsonTooBig(UnsafeJson):
    """More bytes than the caller accepts."""


def exceeds(text: str, max_depth: int) -> bool:
    """Whether ``text`` nests brackets (outside strings) deeper than ``max_depth``; linear, no recursion.

    Escaped backslashes and quotes are dropped first (valid JSON has them only inside strings); of the
    rest only quotes and brackets are kept, in C (``bytes.translate``). Two adjacent quotes are an empty
    string or an empty gap between two strings, so dropping them changes no bracket outside a string;
    the few strings still holding brackets go by one regex. Wide documents are then peeled: one
    ``replace`` removes every innermost ``()`` at once, one level per pass, while that removes a good
    share; running sums over the runs of ``(`` and ``)`` (``itertools.accumulate``) do the rest.
    Exact for balanced text; for broken text it can only err towards "too deep", refusing text ``json``
    would refuse anyway.
    """
    plain = text.replace("\\\\", "").replace('\\"', "")
    marks = plain.encode("utf-8", "surrogatepass").translate(_MARKS, _NOT_MARK).replace(b'""', b"")
    brackets = _STRING.sub(b"", marks) if b'"' in marks else marks
    peeled = 0
    while brackets:
        shorter = brackets.replace(b"()", b"")
        removed = len(brackets) - len(shorter)
        if not removed:
            break
        brackets, peeled = shorter, peeled + 1
        if peeled > max_depth:
            return True
        if removed * 4 < len(brackets):  # a deep, narrow rest: peeling it level by level would be slow
            break
    runs = list(map(len, _RUNS.findall(brackets)))
    if not runs:
        return False
    # Runs alternate; the level after each run of "(" is (all "(" so far) - (all ")" before it).
    if brackets[0] == 0x29:  # starts with ")"
        opens, closes = runs[1::2], runs[0::2]
    else:
        opens, closes = runs[0::2], [0, *runs[1::2]]
    deepest = max(map(operator.sub, accumulate(opens), accumulate(closes)), default=0)
    return peeled + deepest > max_depth


def loads(text: str | bytes, *, max_depth: int = MAX_DEPTH, max_bytes: int | None = None) -> Any:
    """``json.loads`` for untrusted text: refuse more than ``max_bytes`` or nesting beyond ``max_depth``.

    Raises :class:`JsonTooBig`, :class:`JsonTooDeep` (both :class:`UnsafeJson`, a ValueError) or
    ``json.JSONDecodeError``; never ``RecursionError``.
    """
    if max_bytes is not None and len(text) > max_bytes:
        raise JsonTooBig(f"JSON of {len(text)} bytes is over the limit of {max_bytes}")
    if isinstance(text, bytes | bytearray):
        try:
            text = bytes(text).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise json.JSONDecodeError(f"not UTF-8 (byte {exc.start})", "", 0) from None
        if text.startswith("\ufeff"):
            text = text[1:]
    # Fast path: with no more opening brackets than the limit, nesting cannot exceed it.
    if text.count("[") + text.count("{") > max_depth and exceeds(text, max_depth):
        raise JsonTooDeep(f"JSON nested more than {max_depth} levels deep")
    return json.loads(text)
