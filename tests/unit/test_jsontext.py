"""Request bodies: fast orjson where it is exact, the exact parse where it would not be."""

from __future__ import annotations

import json
from decimal import Decimal

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain import jsontext, problems


def test_numbers_a_double_cannot_hold_stay_exact() -> None:
    body = b'{"i": 18446744073709551616, "d": 0.12345678901234567891, "s": 0.1, "n": -12}'
    value = jsontext.loads(body)
    assert value == {
        "i": 18446744073709551616,
        "d": Decimal("0.12345678901234567891"),
        "s": 0.1,
        "n": -12,
    }
    assert isinstance(value, dict)
    assert type(value["s"]) is float


def test_sixteen_digits_that_a_double_holds_stay_floats() -> None:
    assert jsontext.loads("[0.1000000000000000, 1234567890123456]") == [0.1, 1234567890123456]
    assert type(jsontext.loads("[1.000000000000000]")[0]) is float  # type: ignore[index]


@pytest.mark.parametrize(
    "body", [b"[NaN, 1234567890123456789]", b"[Infinity, 1234567890123456789]", b"{", b"[1e400]"]
)
def test_what_is_not_json_stays_an_error(body: bytes) -> None:
    with pytest.raises(json.JSONDecodeError):
        jsontext.loads(body)


@given(
    st.recursive(
        st.none()
        | st.booleans()
        | st.floats(allow_nan=False, allow_infinity=False)
        | st.integers(-(2**63), 2**64 - 1)
        | st.text(),
        lambda c: st.lists(c) | st.dictionaries(st.text(), c),
    )
)
def test_plain_json_decodes_as_orjson_does(value: object) -> None:
    body = json.dumps(value).encode()
    assert jsontext.loads(body) == json.loads(body)


@given(
    st.recursive(
        st.none()
        | st.booleans()
        | st.floats()
        | st.integers(-(2**65), 2**65)
        | st.text(alphabet=st.characters(exclude_categories=()), max_size=40),
        lambda c: st.lists(c, max_size=5) | st.dictionaries(st.text(max_size=8), c, max_size=5),
        max_leaves=30,
    )
)
def test_the_fast_yes_of_json_problem_never_hides_a_problem(value: object) -> None:
    """`json_problem` answers most values from orjson's encoding; whenever it does, the
    full walk finds nothing either, and the encoding (which ingestUsage stores) reads back
    as the same value."""
    encoded = problems.plain_json(value)
    if encoded is not None:
        assert problems.walk_json(value, ("p",)) is None
        assert orjson.loads(encoded) == value
    walked = problems.walk_json(value, ("p",))
    assert (problems.json_problem(value, ("p",)) is None) == (walked is None)
