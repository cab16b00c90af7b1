"""Request JSON decoded fast, and never rounded.

orjson turns integers beyond 64 bits and decimals with more significant digits than a
double holds into the nearest double, silently, before anything can validate them. Such a
number needs at least 16 digits, so a body without a stretch of digits and dots holding 16
digits takes orjson's fast path. Any other body is parsed again by the standard library,
which keeps integers exact and hands each decimal to `_exact_number`: a float when the
float says the same number, otherwise a `Decimal` that validation refuses or keeps exactly.
"""

from __future__ import annotations

import json
import math
import re
from decimal import Decimal

import orjson

_STRETCHES = re.compile(rb"[0-9.]{16,}")
# Digits and dots to "1", everything else to " ": a body whose image holds no 16 "1"s in a
# row has no such stretch, and `bytes.translate` with `in` answers that ten times faster
# than the regular expression can (it backtracks at every digit).
_MARKS = bytes(49 if chr(byte) in "0123456789." else 32 for byte in range(256))
_SIXTEEN = b"1" * 16


def _exact_number(text: str) -> float | Decimal:
    number = float(text)
    if math.isfinite(number) and Decimal(repr(number)) == Decimal(text):
        return number
    return Decimal(text)


def _digits(stretch: bytes) -> int:
    return len(stretch) - stretch.count(b".")


def loads(data: str | bytes) -> object:
    """The JSON value of `data`; malformed JSON raises orjson's `JSONDecodeError`."""
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
    value = orjson.loads(raw)
    if _SIXTEEN not in raw.translate(_MARKS) or not any(
        _digits(stretch.group()) >= 16 for stretch in _STRETCHES.finditer(raw)
    ):
        return value
    return json.loads(raw, parse_float=_exact_number)  # orjson refused NaN already
