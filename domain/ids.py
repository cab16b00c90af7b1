"""Opaque global IDs (Relay Object Identification): base64url of `Type:key`.

Clients must treat them as opaque; the format may change.
"""

from __future__ import annotations

import base64
import binascii

from domain.errors import BadUserInput

MAX_ID_LENGTH = 200


_URLSAFE = bytes.maketrans(b"+/", b"-_")


def encode_global_id(type_name: str, key: int | str) -> str:
    """base64url of `Type:key`, unpadded (base64.urlsafe_b64encode's steps, called
    directly: a page of 550 rows encodes 550 of these)."""
    encoded = binascii.b2a_base64(f"{type_name}:{key}".encode(), newline=False)
    return encoded.translate(_URLSAFE).rstrip(b"=").decode()


def decode_global_id(global_id: str) -> tuple[str, str]:
    """`(type name, key)`; BAD_USER_INPUT for anything that is not one of our IDs."""
    if len(global_id) > MAX_ID_LENGTH or not global_id.isascii():
        raise BadUserInput("Malformed ID", argument="id")
    try:
        padded = global_id + "=" * (-len(global_id) % 4)
        text = base64.urlsafe_b64decode(padded.encode()).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise BadUserInput("Malformed ID") from None
    type_name, sep, key = text.partition(":")
    if not sep or not type_name.isidentifier() or not key:
        raise BadUserInput("Malformed ID")
    return type_name, key


def decode_int_id(global_id: str, type_name: str) -> int | None:
    """The integer key of an ID of `type_name`; None when it names another type."""
    decoded_type, key = decode_global_id(global_id)
    if decoded_type != type_name:
        return None
    if not (key.isascii() and key.isdigit()) or len(key) > 18:
        raise BadUserInput("Malformed ID")
    return int(key)
