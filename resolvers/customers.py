"""Customer reads and mutations (API.md, Customers)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import cache, cached_property
from typing import Any

from sqlalchemy import ColumnElement, Row, Select, delete, exists, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from domain.customers import (
    apply_update_mask,
    billable_status_change,
    clean_fields,
    derive_display_name,
)
from domain.errors import BadUserInput
from domain.ids import decode_int_id
from domain.problems import Code, Problem, Rejected, text_problem
from models import Customer, CustomerIngestAlias
from models.base import utcnow
from resolvers.context import Context
from resolvers.events import record
from resolvers.filters import compile_filter
from resolvers.mutations import Result, locked, run_mutation
from resolvers.pagination import Page, PageArgs, SortKey, build_page, page_statement
from resolvers.specs import CUSTOMER_COLUMNS

MAX_IDS = 100
ID_FIELD = ("input", "id")


def _text_arg(value: str, name: str, max_length: int = 1000) -> str:
    problem = text_problem(value, (name,), max_length)
    if problem:
        raise BadUserInput(f"{name}: {problem.message}", argument=name)
    return value


def _alias_match(alias: str) -> ColumnElement[bool]:
    return exists().where(
        CustomerIngestAlias.customer_id == Customer.id,
        func.lower(CustomerIngestAlias.alias) == alias.lower(),
    )


async def resolve_customer(
    ctx: Context,
    *,
    id: str | None = None,
    handle: str | None = None,
    external_id: str | None = None,
    ingest_alias: str | None = None,
) -> Row[Any] | None:
    ctx.principal.require("read:customers")
    given = [value for value in (id, handle, external_id, ingest_alias) if value is not None]
    if len(given) != 1:
        raise BadUserInput("Pass exactly one of id, handle, externalId or ingestAlias")
    if id is not None:
        pk = decode_int_id(id, "Customer")
        return None if pk is None else await ctx.loaders.customer_by_id.load(pk)
    statement = customer_lookup(handle=handle, external_id=external_id, ingest_alias=ingest_alias)
    result = await ctx.uow.execute(statement)
    row = result.first()
    if row is not None:
        ctx.loaders.prime_customers([row])
    return row


def customer_lookup(
    *,
    handle: str | None = None,
    external_id: str | None = None,
    ingest_alias: str | None = None,
    columns: tuple[Any, ...] = CUSTOMER_COLUMNS,
) -> Select[Any]:
    """The active customer with this handle, externalId or ingest alias (the one given),
    case-insensitively: at most one row (unique indexes)."""
    active = Customer.archived_at.is_(None)
    if handle is not None:
        condition = func.lower(Customer.handle) == _text_arg(handle, "handle").lower()
    elif external_id is not None:
        condition = func.lower(Customer.external_id) == _text_arg(external_id, "externalId").lower()
    else:
        condition = _alias_match(_text_arg(ingest_alias or "", "ingestAlias"))
    return select(*columns).where(active, condition)


def _email_sort(row: Any) -> tuple[Any, ...]:
    return (row.email or "", row.id)


SORT_COLUMNS: dict[str, tuple[Any, Callable[[Any], tuple[Any, ...]], bool, str]] = {
    "CREATED_AT": (Customer.created_at, lambda row: (row.created_at, row.id), True, "created_at"),
    "UPDATED_AT": (Customer.updated_at, lambda row: (row.updated_at, row.id), True, "updated_at"),
    "DISPLAY_NAME": (
        Customer.display_name,
        lambda row: (row.display_name, row.id),
        False,
        "display_name",
    ),
    "EMAIL": (func.coalesce(Customer.email, ""), _email_sort, False, "email"),
}


@cache
def customer_sort_key(field_name: str, direction: str) -> SortKey:
    column, values, is_datetime, attribute = SORT_COLUMNS[field_name]
    return SortKey(
        tag=f"customers:{field_name}:{direction}",
        columns=(column, Customer.id),
        row_values=values,
        descending=direction == "DESC",
        datetimes=frozenset({0}) if is_datetime else frozenset(),
        fields=(attribute, "id"),
    )


@dataclass(frozen=True, slots=True)
class CustomerQuery:
    """The arguments of `Query.customers`, after GraphQL has checked their types."""

    page: PageArgs
    filter: str | None = None
    search: str | None = None
    ids: list[str] | None = None
    ingest_alias: str | None = None
    salesforce_account_ids: list[str] | None = None
    archived: str = "ACTIVE"
    order_field: str = "CREATED_AT"
    order_direction: str = "DESC"


def customer_conditions(query: CustomerQuery) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if query.archived == "ACTIVE":
        conditions.append(Customer.archived_at.is_(None))
    elif query.archived == "ARCHIVED":
        conditions.append(Customer.archived_at.is_not(None))
    if query.ids is not None:
        if len(query.ids) > MAX_IDS:
            raise BadUserInput(f"ids takes at most {MAX_IDS} IDs", argument="ids")
        keys = [decode_int_id(value, "Customer") for value in query.ids]
        conditions.append(Customer.id.in_([key for key in keys if key is not None]))
    if query.search:
        needle = _text_arg(query.search, "search", 200).lower()
        conditions.append(
            or_(
                *(
                    func.lower(column).contains(needle, autoescape=True)
                    for column in (Customer.email, Customer.display_name, Customer.company_name)
                )
            )
        )
    if query.ingest_alias is not None:
        conditions.append(_alias_match(_text_arg(query.ingest_alias, "ingestAlias")))
    if query.salesforce_account_ids is not None:
        if len(query.salesforce_account_ids) > MAX_IDS:
            raise BadUserInput(f"salesforceAccountIds takes at most {MAX_IDS} values")
        values = [_text_arg(v, "salesforceAccountIds") for v in query.salesforce_account_ids]
        conditions.append(Customer.salesforce_account_id.in_(values))
    if query.filter:
        compiled = compile_filter(query.filter)
        if compiled is not None:
            conditions.append(compiled)
    return conditions


@dataclass(frozen=True)
class CustomerPage:
    """The statements of one page of `Query.customers`: the page's rows (`size + 1` at most,
    `backward` when paging from the end) and, when asked for, how many match in all."""

    statement: Select[Any]
    size: int
    backward: bool
    key: SortKey
    conditions: tuple[ColumnElement[bool], ...]

    @cached_property
    def count(self) -> Select[Any]:
        return select(func.count(Customer.id)).where(*self.conditions)


# First pages without filters, by (archived, order, first, last, columns): built once, so a
# request for one builds no SQL expression and its statement's cache key is computed once.
_first_pages: dict[tuple[Any, ...], CustomerPage] = {}
FIRST_PAGES_CACHED = 1024


def customer_page(
    query: CustomerQuery, secret: bytes, columns: tuple[Any, ...] = CUSTOMER_COLUMNS
) -> CustomerPage:
    """The page's statements; BAD_USER_INPUT for arguments that do not make one."""
    page = query.page
    key = customer_sort_key(query.order_field, query.order_direction)
    plain = (
        page.after is None
        and page.before is None
        and not (query.filter or query.search)
        and query.ids is None
        and query.ingest_alias is None
        and query.salesforce_account_ids is None
    )
    shape = (query.archived, query.order_field, query.order_direction, page.first, page.last)
    shape += tuple(columns)
    if plain and (known := _first_pages.get(shape)) is not None:
        return known
    conditions = customer_conditions(query)
    base = select(*columns).where(*conditions)
    statement, size, backward = page_statement(base, key, page, secret)
    found = CustomerPage(statement, size, backward, key, tuple(conditions))
    if plain:
        if len(_first_pages) >= FIRST_PAGES_CACHED:
            _first_pages.clear()
        _first_pages[shape] = found
    return found


async def resolve_customers(ctx: Context, query: CustomerQuery) -> Page:
    ctx.principal.require("read:customers")
    found = customer_page(query, ctx.secret)

    async def count() -> int:
        total = await ctx.uow.execute(found.count)
        return int(total.scalar_one())

    rows = await ctx.uow.rows(found.statement)
    ctx.loaders.prime_customers(rows)
    return build_page(rows, found.size, found.backward, found.key, query.page, ctx.secret, count)


# ---------------------------------------------------------------- mutations

Work = Callable[[AsyncSession], Awaitable[Customer]]


async def _mutate(ctx: Context, work: Work) -> Result:
    """One mutation in its own transaction; the changed customer replaces any loaded copy."""
    result = await run_mutation(ctx, work)
    if result.row is not None:
        ctx.loaders.prime_customers([result.row])
        ctx.bus.wake(ctx.principal.tenant_id)
    return result


def _config_columns(config: dict[str, Any] | None) -> tuple[dict[str, Any], list[Problem]]:
    if not config:
        return {}, []
    return clean_fields(config, ("input", "config"))


async def create_customer(ctx: Context, values: dict[str, Any]) -> Result:
    ctx.principal.require("write:customers")
    # A new customer has nothing to clear: an explicit null is the same as omitting the field
    # (so a null displayName is derived, a null accountType takes its default).
    values = {name: value for name, value in values.items() if value is not None}
    columns, problems = clean_fields(values)
    config, config_problems = _config_columns(values.get("config"))
    problems += config_problems
    display_name = derive_display_name(values)
    if display_name is None:
        message = "Give a displayName, a companyName or a first and last name"
        problems.append(Problem(Code.REQUIRED, ("input", "displayName"), message))
    if problems:
        return Result(None, problems)
    aliases: list[str] = columns.pop("ingest_aliases", None) or []
    columns = {k: v for k, v in columns.items() if v is not None}

    async def work(session: AsyncSession) -> Customer:
        now = utcnow()
        customer = Customer(
            **{**columns, **config, "display_name": display_name},
            tenant_id=ctx.principal.tenant_id,
            created_at=now,
            updated_at=now,
            billable_status_effective_at=now,
            version=1,
        )
        session.add(customer)
        await session.flush()
        _add_aliases(session, ctx, customer.id, aliases)
        await record(session, customer, "CREATED")
        return customer

    return await _mutate(ctx, work)


def _add_aliases(session: AsyncSession, ctx: Context, customer_id: int, aliases: list[str]) -> None:
    session.add_all(
        CustomerIngestAlias(tenant_id=ctx.principal.tenant_id, customer_id=customer_id, alias=a)
        for a in aliases
    )


async def _locked_customer(session: AsyncSession, global_id: str, *, changing: bool) -> Customer:
    """The customer to change, locked for the transaction; NOT_FOUND or ARCHIVED otherwise."""
    customer: Customer = await locked(session, Customer, global_id, "Customer", ID_FIELD)
    if changing and customer.archived_at is not None:
        message = "This customer is archived; restore it first"
        raise Rejected([Problem(Code.ARCHIVED, ID_FIELD, message)])
    return customer


async def _bump(session: AsyncSession, customer: Customer, kind: str = "UPDATED") -> None:
    """A change: the next version, and its event in the same transaction."""
    customer.version += 1
    customer.updated_at = utcnow()
    await record(session, customer, kind)


async def update_customer(ctx: Context, values: dict[str, Any]) -> Result:
    ctx.principal.require("write:customers")
    fields, problems = apply_update_mask(values, values.get("updateMask"))
    columns, field_problems = clean_fields(fields)
    problems += field_problems
    if problems:
        return Result(None, problems)
    expected = values.get("expectedVersion")

    async def work(session: AsyncSession) -> Customer:
        customer = await _locked_customer(session, values["id"], changing=True)
        if expected is not None and expected != customer.version:
            message = f"expectedVersion {expected} is not the current version {customer.version}"
            raise Rejected([Problem(Code.CONFLICT, ("input", "expectedVersion"), message)])
        changes = columns
        if columns.get("billable_status") != customer.billable_status:
            # Only a real change of billable status moves its effective time.
            changes = billable_status_change(columns, utcnow())
        changed = {k: v for k, v in changes.items() if getattr(customer, k) != v}
        for column, value in changed.items():
            setattr(customer, column, value)
        if changed:
            await _bump(session, customer)
        return customer

    return await _mutate(ctx, work)


async def set_customer_name(ctx: Context, global_id: str, name: str) -> Result:
    ctx.principal.require("write:customers")
    columns, problems = clean_fields({"displayName": name})
    if problems:
        return Result(None, [Problem(p.code, ("input", "name"), p.message) for p in problems])

    async def work(session: AsyncSession) -> Customer:
        customer = await _locked_customer(session, global_id, changing=True)
        if customer.display_name != columns["display_name"]:
            customer.display_name = columns["display_name"]
            await _bump(session, customer)
        return customer

    return await _mutate(ctx, work)


async def set_customer_ingest_aliases(ctx: Context, global_id: str, aliases: list[str]) -> Result:
    ctx.principal.require("write:customers")
    _, problems = clean_fields({"ingestAliases": aliases})
    if problems:
        return Result(None, problems)

    async def work(session: AsyncSession) -> Customer:
        customer = await _locked_customer(session, global_id, changing=True)
        current = await session.scalars(
            select(CustomerIngestAlias.alias)
            .where(CustomerIngestAlias.customer_id == customer.id)
            .order_by(CustomerIngestAlias.id)
        )
        if list(current) == aliases:
            return customer
        await session.execute(
            delete(CustomerIngestAlias).where(CustomerIngestAlias.customer_id == customer.id)
        )
        _add_aliases(session, ctx, customer.id, aliases)
        await _bump(session, customer)
        return customer

    outcome = await _mutate(ctx, work)
    if outcome.row is not None:
        ctx.loaders.ingest_aliases_by_customer_id.clear(outcome.row.id)
    return outcome


async def update_customer_config(ctx: Context, values: dict[str, Any]) -> Result:
    ctx.principal.require("write:customers")
    columns, problems = clean_fields(values)
    if problems:
        return Result(None, problems)

    async def work(session: AsyncSession) -> Customer:
        customer = await _locked_customer(session, values["id"], changing=True)
        changed = {k: v for k, v in columns.items() if getattr(customer, k) != v}
        for column, value in changed.items():
            setattr(customer, column, value)
        if changed:
            await _bump(session, customer)
        return customer

    return await _mutate(ctx, work)


async def _set_aliases_active(session: AsyncSession, customer_id: int, active: bool) -> None:
    await session.execute(
        update(CustomerIngestAlias)
        .where(CustomerIngestAlias.customer_id == customer_id)
        .values(active=active)
    )


async def archive_customer(ctx: Context, global_id: str) -> Result:
    ctx.principal.require("write:customers")

    async def work(session: AsyncSession) -> Customer:
        customer = await _locked_customer(session, global_id, changing=False)
        if customer.archived_at is None:
            customer.archived_at = utcnow()
            await _bump(session, customer, "ARCHIVED")
            await _set_aliases_active(session, customer.id, False)
        return customer

    return await _mutate(ctx, work)


async def restore_customer(ctx: Context, global_id: str) -> Result:
    ctx.principal.require("write:customers")

    async def work(session: AsyncSession) -> Customer:
        customer = await _locked_customer(session, global_id, changing=False)
        if customer.archived_at is not None:
            customer.archived_at = None
            await _bump(session, customer, "RESTORED")
            await session.flush()
            await _set_aliases_active(session, customer.id, True)
        return customer

    outcome = await _mutate(ctx, work)
    for problem in outcome.problems:
        if problem.code is Code.TAKEN:
            field_name = problem.field[-1]
            message = f"Another customer took this customer's {field_name} while it was archived"
            outcome.problems = [Problem(Code.TAKEN, ID_FIELD, message)]
    return outcome
