"""Relay cursor pagination of `customers` (API.md, Global IDs and pagination).

A small in-Python model of the customers says which order every page walk must produce:
rows are sorted by (sort key, id), and ids grow with creation, so the id tiebreak is the
creation order (the test never decodes an id or a cursor).
"""

from __future__ import annotations

import base64
import string
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson
import pytest
from conftest import Api, TenantHandle, make_tenant
from helpers import (
    CUSTOMERS_PAGE,
    archive_customer,
    create_customer_batch,
    customers_page,
    single_error,
    update_customer,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.applications import Starlette

FIELDS = ("CREATED_AT", "UPDATED_AT", "DISPLAY_NAME", "EMAIL")
ORDERS = [(f, d) for f in FIELDS for d in ("ASC", "DESC")]


# ---------------------------------------------------------------- the model


@dataclass
class Row:
    index: int  # creation order, which is also the order of the (opaque) ids
    name: str
    email: str | None
    created: int  # logical clock of createdAt
    updated: int  # logical clock of updatedAt
    id: str = ""
    archived: bool = False


@dataclass
class Model:
    rows: list[Row] = field(default_factory=list)
    clock: int = 0

    def tick(self) -> int:
        self.clock += 1
        return self.clock

    def add(self, name: str, email: str | None) -> Row:
        now = self.tick()
        row = Row(len(self.rows), name, email, now, now)
        self.rows.append(row)
        return row

    def touch(self, row: Row) -> None:
        row.updated = self.tick()

    def archive(self, row: Row) -> None:
        row.archived = True
        row.updated = self.tick()

    @staticmethod
    def key(row: Row, order_field: str) -> tuple[Any, int]:
        values: dict[str, Any] = {
            "CREATED_AT": row.created,
            "UPDATED_AT": row.updated,
            "DISPLAY_NAME": row.name,
            "EMAIL": row.email or "",  # a missing email sorts as ""
        }
        return values[order_field], row.index

    def ordered(self, order_field: str, direction: str) -> list[Row]:
        active = [row for row in self.rows if not row.archived]
        ordered = sorted(active, key=lambda row: self.key(row, order_field))
        return ordered[::-1] if direction == "DESC" else ordered


async def create_rows(api: Api, model: Model, items: list[tuple[str, str | None]]) -> list[Row]:
    rows = [model.add(name, email) for name, email in items]
    inputs = [{"displayName": name, "email": email} for name, email in items]
    for row, customer in zip(rows, await create_customer_batch(api, inputs), strict=True):
        row.id = customer["id"]
        assert customer["displayName"] == row.name
        assert customer["email"] == row.email
    return rows


def order_arg(order: tuple[str, str]) -> dict[str, str]:
    return {"field": order[0], "direction": order[1]}


def check_page_cursors(page: dict[str, Any]) -> None:
    edges, info = page["edges"], page["pageInfo"]
    if edges:
        assert info["startCursor"] == edges[0]["cursor"]
        assert info["endCursor"] == edges[-1]["cursor"]
    else:
        assert info["startCursor"] is None
        assert info["endCursor"] is None


async def walk_forward(api: Api, order: tuple[str, str], size: int, total: int) -> list[str]:
    """Every id, page by page with first/after, checking the page info on the way."""
    ids: list[str] = []
    after: str | None = None
    for number in range(total // size + 2):
        page = await customers_page(api, first=size, after=after, orderBy=order_arg(order))
        check_page_cursors(page)
        edges, info = page["edges"], page["pageInfo"]
        ids += [edge["node"]["id"] for edge in edges]
        if number == 0:
            assert info["hasPreviousPage"] is False
        if not info["hasNextPage"]:
            assert 0 < len(edges) <= size or total == 0
            return ids
        assert len(edges) == size
        after = info["endCursor"]
    raise AssertionError(f"hasNextPage never became false: {ids}")


async def walk_backward(api: Api, order: tuple[str, str], size: int, total: int) -> list[str]:
    """Every id, page by page with last/before from the end, in list order."""
    ids: list[str] = []
    before: str | None = None
    for number in range(total // size + 2):
        page = await customers_page(api, last=size, before=before, orderBy=order_arg(order))
        check_page_cursors(page)
        edges, info = page["edges"], page["pageInfo"]
        ids = [edge["node"]["id"] for edge in edges] + ids
        if number == 0:
            assert info["hasNextPage"] is False
        if not info["hasPreviousPage"]:
            assert 0 < len(edges) <= size or total == 0
            return ids
        assert len(edges) == size
        before = info["startCursor"]
    raise AssertionError(f"hasPreviousPage never became false: {ids}")


# ---------------------------------------------------------------- property: walks


@dataclass(frozen=True)
class Scenario:
    customers: list[tuple[str, str | None]]
    touches: list[int]  # indexes of customers updated after all were created, in order
    order: tuple[str, str]
    forward_size: int
    backward_size: int


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    count = draw(st.integers(0, 30))
    # Two-character names from three symbols: many duplicates, so sort-key ties occur.
    names = draw(st.lists(st.text("ab0", min_size=1, max_size=2), min_size=count, max_size=count))
    locals_ = draw(
        st.lists(
            st.text("ab1", min_size=1, max_size=3), min_size=count, max_size=count, unique=True
        )
    )
    has_email = draw(st.lists(st.booleans(), min_size=count, max_size=count))
    emails = [
        f"{local}@example.com" if has else None
        for local, has in zip(locals_, has_email, strict=True)
    ]
    touches = draw(st.lists(st.integers(0, count - 1), max_size=5)) if count else []
    return Scenario(
        customers=list(zip(names, emails, strict=True)),
        touches=touches,
        order=draw(st.sampled_from(ORDERS)),
        forward_size=draw(st.integers(1, 7)),
        backward_size=draw(st.integers(1, 7)),
    )


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(scenario=scenarios())
async def test_walks_forward_and_backward_give_the_expected_order(
    app: Starlette, client: httpx.AsyncClient, scenario: Scenario
) -> None:
    tenant = await make_tenant(app, client)  # a fresh tenant: examples never see each other
    model = Model()
    rows = await create_rows(tenant.api, model, scenario.customers)
    for index in scenario.touches:
        model.touch(rows[index])
        await update_customer(tenant.api, rows[index].id, description=f"touch {model.clock}")

    expected = [row.id for row in model.ordered(*scenario.order)]
    total = len(expected)
    forward = await walk_forward(tenant.api, scenario.order, scenario.forward_size, total)
    assert forward == expected
    backward = await walk_backward(tenant.api, scenario.order, scenario.backward_size, total)
    assert backward == expected


# ---------------------------------------------------------------- tampered cursors


def flip(cursor: str, position: int) -> str:
    """The cursor with one character changed (the last one may only carry unused bits)."""
    replacement = "B" if cursor[position] == "A" else "A"
    return cursor[:position] + replacement + cursor[position + 1 :]


BASE64URL = string.ascii_uppercase + string.ascii_lowercase + string.digits + "-_"


def respell_last(cursor: str) -> str:
    """The cursor with the lowest bit of its last character flipped: when the length is not a
    multiple of 4 that bit is unused, so a lax decoder reads the very same bytes."""
    return cursor[:-1] + BASE64URL[BASE64URL.index(cursor[-1]) ^ 1]


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


async def test_tampered_cursors_are_bad_user_input(tenant: TenantHandle) -> None:
    model = Model()
    rows = await create_rows(tenant.api, model, [(f"n{i}", f"e{i}@example.com") for i in range(5)])
    order = order_arg(("CREATED_AT", "ASC"))
    page = await customers_page(tenant.api, first=2, orderBy=order)
    cursor: str = page["pageInfo"]["endCursor"]
    assert cursor and len(cursor) > 8
    # The real cursor works (the rows after the second).
    after = await customers_page(tenant.api, first=10, after=cursor, orderBy=order)
    assert [e["node"]["id"] for e in after["edges"]] == [row.id for row in rows[2:]]

    forged_payload = orjson.dumps(["customers:CREATED_AT:ASC", ["2000-01-01T00:00:00+00:00", 1]])
    tampered = [
        *(flip(cursor, position) for position in range(len(cursor))),
        cursor.swapcase(),
        cursor[:-1],
        cursor[:-2],
        cursor[:-4],
        cursor[: len(cursor) // 2],
        cursor[:1],
        cursor + "A",
        cursor + "AAAA",
        cursor[1:],
        cursor[::-1],
        b64(b"garbage"),
        b64(b"garbage" * 20),
        b64(forged_payload + bytes(12)),
        b64(forged_payload),
        b64(b"null" + bytes(12)),
        rows[0].id,  # a global ID is not a cursor
        "",
        " ",
        "=",
        "====",
        "null",
        "!!!!!!!!",
        "é" * 10,
        "A" * 5000,
        respell_last(cursor),
        respell_last(cursor + "A"),
        respell_last(cursor + "AA"),
        # Characters outside base64url: four of them keep a lax decoder's padding right.
        cursor + "\x00",
        cursor + "!",
        cursor + "!!!!",
        cursor[:4] + "...." + cursor[4:],
        cursor[:8] + "    " + cursor[8:],
        cursor[:8] + "\n\n\n\n" + cursor[8:],
        cursor[:8] + "+/+/" + cursor[8:],
        cursor + "==",
    ]
    for bad in tampered:
        for direction in ("after", "before"):
            body = await tenant.api.gql(
                CUSTOMERS_PAGE, {"first": 2, direction: bad, "orderBy": order}
            )
            assert body["data"] is None, (bad, direction, body)
            single_error(body)


@pytest.mark.parametrize(
    ("made_for", "used_with"),
    [
        (("CREATED_AT", "ASC"), ("CREATED_AT", "DESC")),
        (("CREATED_AT", "DESC"), ("CREATED_AT", "ASC")),
        (("CREATED_AT", "ASC"), ("UPDATED_AT", "ASC")),
        (("UPDATED_AT", "DESC"), ("CREATED_AT", "DESC")),
        (("DISPLAY_NAME", "ASC"), ("EMAIL", "ASC")),
        (("EMAIL", "DESC"), ("DISPLAY_NAME", "DESC")),
        (("DISPLAY_NAME", "ASC"), ("CREATED_AT", "ASC")),
        (("CREATED_AT", "DESC"), ("DISPLAY_NAME", "ASC")),
    ],
)
async def test_cursor_from_another_order_is_bad_user_input(
    tenant: TenantHandle, made_for: tuple[str, str], used_with: tuple[str, str]
) -> None:
    await create_rows(tenant.api, Model(), [(f"n{i}", f"e{i}@example.com") for i in range(4)])
    page = await customers_page(tenant.api, first=2, orderBy=order_arg(made_for))
    cursor = page["pageInfo"]["endCursor"]
    for direction in ("after", "before"):
        variables = {"first": 2, direction: cursor, "orderBy": order_arg(used_with)}
        body = await tenant.api.gql(CUSTOMERS_PAGE, variables)
        assert body["data"] is None, body
        error = single_error(body)
        assert "cursor" in error["message"].lower()
    # Without orderBy the order is CREATED_AT DESC: a cursor of another order is refused too.
    if made_for != ("CREATED_AT", "DESC"):
        body = await tenant.api.gql(CUSTOMERS_PAGE, {"after": cursor})
        single_error(body)


# ---------------------------------------------------------------- keyset stability


@pytest.mark.parametrize("order", ORDERS)
async def test_cursor_stays_valid_after_inserts_and_archives(
    tenant: TenantHandle, order: tuple[str, str]
) -> None:
    model = Model()
    await create_rows(tenant.api, model, [(f"m{i}", f"m{i}@example.com") for i in range(7)])
    before_changes = model.ordered(*order)
    page = await customers_page(tenant.api, first=10, orderBy=order_arg(order))
    assert [e["node"]["id"] for e in page["edges"]] == [r.id for r in before_changes]

    # A forward cursor on the 3rd row and a backward cursor on the 5th, taken now.
    page = await customers_page(tenant.api, first=3, orderBy=order_arg(order))
    after_cursor = page["pageInfo"]["endCursor"]
    after_row = before_changes[2]
    after_key = model.key(after_row, order[0])
    page = await customers_page(tenant.api, first=2, after=after_cursor, orderBy=order_arg(order))
    before_cursor = page["pageInfo"]["endCursor"]
    before_row = before_changes[4]
    before_key = model.key(before_row, order[0])

    # Others change meanwhile: the cursor rows themselves and their neighbours are archived,
    # rows are updated, and new rows sort before, between and after the cursors.
    for row in (after_row, before_changes[3], before_row, before_changes[0]):
        model.archive(row)
        await archive_customer(tenant.api, row.id)
    for row in (before_changes[5],):
        model.touch(row)
        await update_customer(tenant.api, row.id, description="touched")
    await create_rows(
        tenant.api,
        model,
        [("a", "a@example.com"), ("m3x", "m3x@example.com"), ("z", None), ("m", "zz@example.com")],
    )

    now = model.ordered(*order)
    descending = order[1] == "DESC"

    def beyond(key: tuple[Any, int], cursor_key: tuple[Any, int]) -> bool:
        return key < cursor_key if descending else key > cursor_key

    expected_after = [r.id for r in now if beyond(model.key(r, order[0]), after_key)]
    expected_before = [r.id for r in now if beyond(before_key, model.key(r, order[0]))]
    assert expected_after and expected_before  # the scenario exercises both sides

    page = await customers_page(tenant.api, first=20, after=after_cursor, orderBy=order_arg(order))
    assert [e["node"]["id"] for e in page["edges"]] == expected_after
    assert page["pageInfo"]["hasNextPage"] is False
    page = await customers_page(tenant.api, last=20, before=before_cursor, orderBy=order_arg(order))
    assert [e["node"]["id"] for e in page["edges"]] == expected_before
    assert page["pageInfo"]["hasPreviousPage"] is False
    # And with smaller pages: the first row beyond each cursor, with more to come.
    page = await customers_page(tenant.api, first=1, after=after_cursor, orderBy=order_arg(order))
    assert [e["node"]["id"] for e in page["edges"]] == expected_after[:1]
    assert page["pageInfo"]["hasNextPage"] is (len(expected_after) > 1)
    page = await customers_page(tenant.api, last=1, before=before_cursor, orderBy=order_arg(order))
    assert [e["node"]["id"] for e in page["edges"]] == expected_before[-1:]
    assert page["pageInfo"]["hasPreviousPage"] is (len(expected_before) > 1)


async def test_empty_connection(tenant: TenantHandle) -> None:
    for arguments in ({}, {"first": 5}, {"last": 5}, {"first": 0}):
        page = await customers_page(tenant.api, **arguments)
        assert page["edges"] == []
        assert page["totalCount"] == 0
        assert page["pageInfo"] == {
            "hasNextPage": False,
            "hasPreviousPage": False,
            "startCursor": None,
            "endCursor": None,
        }
