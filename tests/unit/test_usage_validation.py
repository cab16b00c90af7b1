"""ingestUsage's validation: the fast yes for plain events never hides a problem."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
from hypothesis import given
from hypothesis import strategies as st

from domain import usage

TEXTS = (
    st.text(max_size=3)
    | st.text(alphabet=st.characters(codec="ascii"), min_size=120, max_size=260)
    | st.sampled_from(["", " ", "\x00", "a\x00b", "\ud800", "é", "plain-id"])
)
PROPERTIES = (
    st.none()
    | st.dictionaries(
        st.text(max_size=5),
        st.none() | st.integers() | st.floats() | st.text(max_size=5) | st.booleans(),
        max_size=4,
    )
    | st.dictionaries(st.text(max_size=3), st.integers(), min_size=101, max_size=102)
    | st.lists(st.integers(), max_size=2)
    | st.text(max_size=3)
)


@given(
    st.fixed_dictionaries(
        {"transactionId": TEXTS, "customerId": TEXTS, "eventType": TEXTS},
        optional={"properties": PROPERTIES},
    )
)
def test_plainly_valid_events_have_no_problems(item: dict[str, Any]) -> None:
    properties = item.get("properties")
    properties = {} if properties is None else properties
    encoded = usage._plainly_valid(item, properties)
    problems = usage._problems(0, item, properties)
    if encoded is not None:
        assert problems == []
        assert orjson.loads(encoded) == properties
    valid, found = usage.validate_events([item], datetime.now(UTC))
    assert found == problems
    assert len(valid) == (0 if problems else 1)
