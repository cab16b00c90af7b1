"""Opaque, signed keyset cursors.

A cursor holds the sort key values of one row and the tag of the ordering it was made
for, signed with HMAC-SHA256 so that a tampered cursor, or one reused with another order,
is rejected as BAD_USER_INPUT instead of silently paging from somewhere else.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re

import orjson

from domain.errors import BadUserInput

CursorValue = str | int | None
SIGNATURE_BYTES = 12
MAX_CURSOR_LENGTH = 1024
# Unpadded base64url, as `encode_cursor` writes it: anything else is not one of our cursors.
_CURSOR = re.compile(r"[A-Za-z0-9_-]+")


def encode_cursor(secret: bytes, order_tag: str, values: list[CursorValue]) -> str:
    payload = orjson.dumps([order_tag, values])
    signature = hmac.new(secret, payload, hashlib.sha256).digest()[:SIGNATURE_BYTES]
    return base64.urlsafe_b64encode(payload + signature).decode().rstrip("=")


def decode_cursor(secret: bytes, order_tag: str, cursor: str) -> list[CursorValue]:
    """The values of a cursor made by `encode_cursor` for the same order, else BAD_USER_INPUT."""
    if len(cursor) > MAX_CURSOR_LENGTH or not _CURSOR.fullmatch(cursor):
        raise BadUserInput("Invalid cursor")
    try:
        raw = base64.urlsafe_b64decode((cursor + "=" * (-len(cursor) % 4)).encode())
    except (binascii.Error, ValueError):
        raise BadUserInput("Invalid cursor") from None
    # The decoder skips stray characters and ignores the unused bits of the last one: only
    # the exact text `encode_cursor` made is accepted, so every altered cursor is refused.
    if base64.urlsafe_b64encode(raw).decode().rstrip("=") != cursor:
        raise BadUserInput("Invalid cursor")
    payload, signature = raw[:-SIGNATURE_BYTES], raw[-SIGNATURE_BYTES:]
    expected = hmac.new(secret, payload, hashlib.sha256).digest()[:SIGNATURE_BYTES]
    if len(raw) <= SIGNATURE_BYTES or not hmac.compare_digest(signature, expected):
        raise BadUserInput("Invalid cursor")
    tag, values = orjson.loads(payload)
    if tag != order_tag:
        raise BadUserInput("This cursor was made for another order or filter; start again")
    if not isinstance(values, list):
        raise BadUserInput("Invalid cursor")
    return values
