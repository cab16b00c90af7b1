"""Concurrent writers against an in-memory model (ARCHITECTURE.md, Database and Concurrency).

A hypothesis state machine sends batches of customer writes ALL AT ONCE to a real
`customergraph serve` process, one connection per request, so the server interleaves them:
creates (several racing for one handle, externalId, email or ingest alias), updates of
those keys and of `description`, archives, restores and `setCustomerIngestAliases`
(including two customers swapping the same aliases in opposite orders). Several writes in
a batch may touch the same customer.

The check is linearizability. Every write's outcome (acknowledged with a version, or
refused with a documented userError) must match at least one serial order of the batch,
replayed on the model: a write succeeds exactly when that order lets it, and a refusal is
the one API.md documents (`TAKEN` on the field holding the taken value, `TAKEN` on
`["input","id"]` for a restore, `ARCHIVED` for changing an archived customer). For colliding
creates this means exactly one wins a free value and none wins a taken one. Versions pin
the order of the writes to one customer, so the matching order gives one final state, and
the model becomes that state.

After each step the tenant is read back through the API: every customer and nothing else,
each with its last acknowledged handle, externalId, email, aliases, description, archived
flag and version; active customers share no unique key (case-insensitively); `customers`
lists only the active ones; `customer(handle|externalId|ingestAlias)` finds the active
customer the model says holds the value, in any letter case, and nothing for a free value.

Event loops: pytest-asyncio runs fixtures and async tests on one session loop, which is
idle while a synchronous test runs. This test is synchronous (hypothesis drives the state
machine with plain calls) and owns a second loop running in a worker thread for its whole
duration; each rule submits one `asyncio.gather` of requests to it with
`run_coroutine_threadsafe` and waits for the answers. The session loop is never re-entered
or replaced (as `asyncio.run` in the main thread would do) and everything opened on the
worker loop (the HTTP client, a database engine that creates a fresh tenant for every
example) is closed on it before the thread ends, so `filterwarnings = error` sees no
unclosed resource.

Budget: `MAX_EXAMPLES` machines of at most `STEPS` batches, derandomized, per backend.
"""

from __future__ import annotations

import asyncio
import itertools
import secrets
import threading
import uuid
from collections.abc import Awaitable, Iterator
from dataclasses import dataclass, replace
from typing import Any, ClassVar, TypeVar

import httpx
import pytest
from conftest import LiveServer
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from models import ApiKey, Tenant
from models.base import utcnow
from models.db import make_engine, make_sessionmaker
from resolvers.auth import ALL_SCOPES, hash_key, new_key

MAX_EXAMPLES = 8
STEPS = 8
MAX_BATCH = 6  # 6! = 720 serial orders to try at most

HANDLES = ("h0", "h1", "h2")
EXTERNAL_IDS = ("x0", "x1", "x2")
EMAILS = ("e0@example.com", "e1@example.com", "e2@example.com")
ALIASES = ("a0", "a1", "a2", "a3")
DESCRIPTIONS = ("d0", "d1", "d2")
KEY_FIELDS = ("handle", "externalId", "email")

T = TypeVar("T")

CUSTOMER = "customer { id handle externalId email ingestAliases description isArchived version }"
USER_ERRORS = "userErrors { field code message }"
CREATE = f"""mutation($input: CreateCustomerInput!) {{
  createCustomer(input: $input) {{ {CUSTOMER} {USER_ERRORS} }} }}"""
UPDATE = f"""mutation($input: UpdateCustomerInput!) {{
  updateCustomer(input: $input) {{ {CUSTOMER} {USER_ERRORS} }} }}"""
ARCHIVE = f"""mutation($id: ID!) {{
  archiveCustomer(input: {{id: $id}}) {{ {CUSTOMER} {USER_ERRORS} }} }}"""
RESTORE = f"""mutation($id: ID!) {{
  restoreCustomer(input: {{id: $id}}) {{ {CUSTOMER} {USER_ERRORS} }} }}"""
SET_ALIASES = f"""mutation($id: ID!, $aliases: [String!]!) {{
  setCustomerIngestAliases(input: {{id: $id, ingestAliases: $aliases}}) {{
    {CUSTOMER} {USER_ERRORS} }} }}"""
READ_ALL = """query($after: String) {
  all: customers(archived: ALL, first: 100, after: $after) {
    totalCount pageInfo { hasNextPage endCursor }
    nodes { id handle externalId email ingestAliases description isArchived version }
  }
  active: customers(first: 100) { totalCount nodes { id } }
}"""


# ------------------------------------------------------------------------------ the model


@dataclass(frozen=True)
class State:
    """One customer as the model knows it; letter case as written."""

    handle: str | None = None
    externalId: str | None = None  # noqa: N815 (the API's field names)
    email: str | None = None
    aliases: tuple[str, ...] = ()
    description: str | None = None
    archived: bool = False
    version: int = 1

    def unique_keys(self) -> set[tuple[str, str]]:
        """The unique values this customer holds while active, as (field, lower-cased)."""
        held = {(name, value.lower()) for name in KEY_FIELDS if (value := getattr(self, name))}
        return held | {("ingestAliases", alias.lower()) for alias in self.aliases}


Model = dict[str, State]  # global id -> state


def held_by_others(model: Model, customer_id: str | None) -> set[tuple[str, str]]:
    return {
        key
        for other, state in model.items()
        if other != customer_id and not state.archived
        for key in state.unique_keys()
    }


@dataclass(frozen=True)
class Outcome:
    """What the server answered: the customer (acknowledged) or the userErrors."""

    customer: dict[str, Any] | None
    errors: tuple[tuple[str, tuple[str, ...]], ...]  # (code, field path)

    @property
    def acknowledged(self) -> bool:
        return self.customer is not None

    def refused_with(self, code: str, fields: set[str]) -> bool:
        return (
            self.customer is None
            and len(self.errors) == 1
            and self.errors[0][0] == code
            and len(self.errors[0][1]) == 2
            and self.errors[0][1][0] == "input"
            and self.errors[0][1][1] in fields
        )

    def acknowledged_at(self, version: int) -> bool:
        return self.customer is not None and not self.errors and self.customer["version"] == version


@dataclass(frozen=True)
class Create:
    handle: str | None = None
    externalId: str | None = None  # noqa: N815
    email: str | None = None
    aliases: tuple[str, ...] = ()
    description: str | None = None

    def request(self, model_ids: list[str]) -> tuple[str, dict[str, Any]]:
        values: dict[str, Any] = {
            "displayName": "Model customer",
            "handle": self.handle,
            "externalId": self.externalId,
            "email": self.email,
            "description": self.description,
        }
        if self.aliases:
            values["ingestAliases"] = list(self.aliases)
        return CREATE, {"input": {k: v for k, v in values.items() if v is not None}}

    def replay(self, model: Model, outcome: Outcome, _: list[str]) -> bool:
        new = State(self.handle, self.externalId, self.email, self.aliases, self.description)
        taken = {name for name, value in new.unique_keys() & held_by_others(model, None)}
        if taken:
            return outcome.refused_with("TAKEN", taken)
        if not outcome.acknowledged_at(1) or outcome.customer["id"] in model:  # type: ignore[index]
            return False
        model[outcome.customer["id"]] = new  # type: ignore[index]
        return True


@dataclass(frozen=True)
class Update:
    pick: int
    changes: dict[str, str | None]  # handle, externalId, email, description

    def request(self, model_ids: list[str]) -> tuple[str, dict[str, Any]]:
        return UPDATE, {"input": {"id": model_ids[self.pick % len(model_ids)], **self.changes}}

    def replay(self, model: Model, outcome: Outcome, model_ids: list[str]) -> bool:
        customer_id = model_ids[self.pick % len(model_ids)]
        current = model[customer_id]
        if current.archived:
            return outcome.refused_with("ARCHIVED", {"id"})
        new = replace(current, **self.changes)  # type: ignore[arg-type]
        taken = {name for name, value in new.unique_keys() & held_by_others(model, customer_id)}
        if taken:
            return outcome.refused_with("TAKEN", taken)
        version = current.version + (new != current)
        if not outcome.acknowledged_at(version):
            return False
        model[customer_id] = replace(new, version=version)
        return True


@dataclass(frozen=True)
class _SetArchived:
    """Archive or restore: a version step only when the state changes; restoring is
    refused while another customer holds one of its unique keys."""

    pick: int
    archived: ClassVar[bool]
    mutation: ClassVar[str]

    def request(self, model_ids: list[str]) -> tuple[str, dict[str, Any]]:
        return self.mutation, {"id": model_ids[self.pick % len(model_ids)]}

    def replay(self, model: Model, outcome: Outcome, model_ids: list[str]) -> bool:
        customer_id = model_ids[self.pick % len(model_ids)]
        current = model[customer_id]
        restoring = current.archived and not self.archived
        if restoring and current.unique_keys() & held_by_others(model, customer_id):
            return outcome.refused_with("TAKEN", {"id"})
        version = current.version + (current.archived != self.archived)
        if not outcome.acknowledged_at(version):
            return False
        model[customer_id] = replace(current, archived=self.archived, version=version)
        return True


class Archive(_SetArchived):
    archived = True
    mutation = ARCHIVE


class Restore(_SetArchived):
    archived = False
    mutation = RESTORE


@dataclass(frozen=True)
class SetAliases:
    pick: int
    aliases: tuple[str, ...]

    def request(self, model_ids: list[str]) -> tuple[str, dict[str, Any]]:
        return SET_ALIASES, {"id": model_ids[self.pick % len(model_ids)], "aliases": self.aliases}

    def replay(self, model: Model, outcome: Outcome, model_ids: list[str]) -> bool:
        customer_id = model_ids[self.pick % len(model_ids)]
        current = model[customer_id]
        if current.archived:
            return outcome.refused_with("ARCHIVED", {"id"})
        new = replace(current, aliases=self.aliases)
        if new.unique_keys() & held_by_others(model, customer_id):
            return outcome.refused_with("TAKEN", {"ingestAliases"})
        version = current.version + (new != current)
        if not outcome.acknowledged_at(version):
            return False
        model[customer_id] = replace(new, version=version)
        return True


Operation = Create | Update | Archive | Restore | SetAliases


def holding(key: str, value: str) -> Create:
    """A create whose only unique value is `value` in field `key`."""
    if key == "ingestAliases":
        return Create(aliases=(value,))
    return Create(
        handle=value if key == "handle" else None,
        externalId=value if key == "externalId" else None,
        email=value if key == "email" else None,
    )


def linearize(
    model: Model, model_ids: list[str], batch: list[Operation], outcomes: list[Outcome]
) -> Model | None:
    """The model after the first serial order of `batch` that explains every outcome."""
    for order in itertools.permutations(range(len(batch))):
        candidate = dict(model)
        if all(batch[i].replay(candidate, outcomes[i], model_ids) for i in order):
            return candidate
    return None


# ------------------------------------------------------------------------ the strategies


def spell(value: str, upper: bool) -> str:
    """The value upper-cased, an email's local part only (its domain is normalised)."""
    if not upper:
        return value
    local, at, domain = value.partition("@")
    return local.upper() + at + domain


def cased(pool: tuple[str, ...]) -> st.SearchStrategy[str]:
    """A value of the pool, sometimes upper-cased: uniqueness is case-insensitive."""
    return st.tuples(st.sampled_from(pool), st.booleans()).map(lambda pair: spell(*pair))


def maybe(strategy: st.SearchStrategy[str]) -> st.SearchStrategy[str | None]:
    return st.one_of(st.none(), strategy)


PICKS = st.integers(min_value=0, max_value=1000)
ALIAS_LISTS = st.lists(cased(ALIASES), max_size=2, unique_by=str.lower).map(tuple)
CREATES = st.builds(
    Create,
    handle=maybe(cased(HANDLES)),
    externalId=maybe(cased(EXTERNAL_IDS)),
    email=maybe(cased(EMAILS)),
    aliases=ALIAS_LISTS,
    description=maybe(st.sampled_from(DESCRIPTIONS)),
)
UPDATES = st.builds(
    Update,
    pick=PICKS,
    changes=st.fixed_dictionaries(
        {},
        optional={
            "handle": maybe(cased(HANDLES)),
            "externalId": maybe(cased(EXTERNAL_IDS)),
            "email": maybe(cased(EMAILS)),
            "description": maybe(st.sampled_from(DESCRIPTIONS)),
        },
    ),
)
WRITES: st.SearchStrategy[Operation] = st.one_of(
    CREATES,
    UPDATES,
    st.builds(Archive, pick=PICKS),
    st.builds(Restore, pick=PICKS),
    st.builds(SetAliases, pick=PICKS, aliases=ALIAS_LISTS),
)


# ----------------------------------------------------------------- the worker event loop


class Worker:
    """An event loop of the test's own in a thread: an HTTP client to the live server and
    the tables' owner engine (to make a fresh tenant for each machine)."""

    def __init__(self, server_url: str, database_url: str) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="model-worker")
        self.thread.start()
        self.server_url = server_url
        self.database_url = database_url
        self.http, self.engine, self.owner = self.run(self._open())

    async def _open(
        self,
    ) -> tuple[httpx.AsyncClient, AsyncEngine, async_sessionmaker[AsyncSession]]:
        limits = httpx.Limits(max_connections=MAX_BATCH * 2, max_keepalive_connections=0)
        http = httpx.AsyncClient(base_url=self.server_url, timeout=60, limits=limits)
        engine = make_engine(self.database_url, pool_size=1)
        return http, engine, make_sessionmaker(engine)

    def run(self, work: Awaitable[T]) -> T:
        async def wrapped() -> T:
            return await work

        return asyncio.run_coroutine_threadsafe(wrapped(), self.loop).result(timeout=120)

    def close(self) -> None:
        self.run(self.http.aclose())
        self.run(self.engine.dispose())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=30)
        self.loop.close()

    async def new_tenant(self) -> str:
        """A tenant of its own with an all-scopes key, written as conftest.make_tenant does."""
        tenant_id = uuid.uuid4()
        key, prefix = new_key()
        async with self.owner(info={"system": True}) as session:
            session.add(
                Tenant(id=tenant_id, name=f"model-{secrets.token_hex(6)}", created_at=utcnow())
            )
            await session.flush()
            session.add(
                ApiKey(
                    tenant_id=tenant_id,
                    prefix=prefix,
                    key_hash=hash_key(key),
                    scopes=list(ALL_SCOPES),
                    created_at=utcnow(),
                )
            )
            await session.commit()
        return key

    async def post(self, key: str, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        response = await self.http.post(
            "/graphql",
            json={"query": query, "variables": variables},
            headers={"Authorization": f"Bearer {key}"},
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        assert "errors" not in body, body
        data: dict[str, Any] = body["data"]
        return data


# --------------------------------------------------------------------- the state machine


class ConcurrentClients(RuleBasedStateMachine):
    worker: Worker  # set by the test before hypothesis makes machines

    def __init__(self) -> None:
        super().__init__()
        self.key = self.worker.run(self.worker.new_tenant())
        self.model: Model = {}
        self.ids: list[str] = []  # every customer, first seen first: what `pick` indexes

    # -- sending a batch

    def send(self, batch: list[Operation]) -> list[Outcome]:
        """Every write of the batch at once, each on its own connection."""
        requests = [op.request(self.ids) for op in batch]

        async def all_at_once() -> list[dict[str, Any] | BaseException]:
            # Every request finishes before a failed one is reported: none is left running.
            return await asyncio.gather(
                *(self.worker.post(self.key, query, variables) for query, variables in requests),
                return_exceptions=True,
            )

        answers = self.worker.run(all_at_once())
        outcomes = []
        for data in answers:
            if isinstance(data, BaseException):
                raise data
            (payload,) = data.values()
            errors = tuple((e["code"], tuple(e["field"] or ())) for e in payload["userErrors"])
            outcomes.append(Outcome(payload["customer"], errors))
        return outcomes

    def apply(self, batch: list[Operation]) -> list[Outcome]:
        outcomes = self.send(batch)
        after = linearize(self.model, self.ids, batch, outcomes)
        assert after is not None, (
            "no serial order of the batch explains its outcomes:\n"
            + "\n".join(f"  {op} -> {outcome}" for op, outcome in zip(batch, outcomes, strict=True))
            + f"\nmodel before: {self.model}"
        )
        self.ids += [customer_id for customer_id in after if customer_id not in self.model]
        self.model = after
        return outcomes

    # -- rules

    @initialize(batch=st.lists(CREATES, min_size=1, max_size=4))
    def first_creates(self, batch: list[Operation]) -> None:
        """At least one create of the first batch wins (the tenant is empty), so the other
        rules always have a customer to pick: what hypothesis draws never depends on how
        the server interleaved a batch (it would call that a flaky strategy)."""
        self.apply(batch)
        assert self.ids

    @rule(batch=st.lists(CREATES, min_size=1, max_size=4))
    def creates(self, batch: list[Operation]) -> None:
        self.apply(batch)

    @rule(
        key=st.sampled_from(("handle", "externalId", "email", "ingestAliases")),
        value=st.integers(min_value=0, max_value=2),
        spellings=st.lists(st.booleans(), min_size=2, max_size=5),
    )
    def creates_racing_for_one_value(self, key: str, value: int, spellings: list[bool]) -> None:
        """Several creates with one handle, externalId, email or alias, in varied case: one
        wins a free value, none wins a taken one, the others get TAKEN on that field."""
        base = {
            "handle": HANDLES,
            "externalId": EXTERNAL_IDS,
            "email": EMAILS,
            "ingestAliases": ALIASES,
        }[key][value]
        batch: list[Operation] = [holding(key, spell(base, upper)) for upper in spellings]
        free = (key, base) not in held_by_others(self.model, None)
        outcomes = self.apply(batch)
        assert sum(o.acknowledged for o in outcomes) == int(free), outcomes
        assert all(o.acknowledged or o.refused_with("TAKEN", {key}) for o in outcomes), outcomes

    @rule(pick=PICKS)
    def archived_value_reused(self, pick: int) -> None:
        """A customer is archived, two creates race for one of its values, and its restores
        (two at once) both fail with TAKEN on `["input","id"]`."""
        index = pick % len(self.ids)  # stays the same customer as creates add to self.ids
        self.apply([Archive(index)])
        keys = sorted(self.model[self.ids[index]].unique_keys())
        if not keys:
            return
        self.apply([holding(*keys[0]), holding(*keys[0])])
        outcomes = self.apply([Restore(index), Restore(index)])
        assert all(o.refused_with("TAKEN", {"id"}) for o in outcomes), outcomes

    @rule(batch=st.lists(WRITES, min_size=2, max_size=MAX_BATCH))
    def mixed_writes(self, batch: list[Operation]) -> None:
        self.apply(batch)

    @rule(
        picks=st.tuples(PICKS, PICKS),
        aliases=st.lists(cased(ALIASES), min_size=2, max_size=3, unique_by=str.lower),
        also=st.lists(WRITES, max_size=2),
    )
    def aliases_swapped(
        self, picks: tuple[int, int], aliases: list[str], also: list[Operation]
    ) -> None:
        """Two customers (one if there is only one) claim the same aliases at once, in
        opposite orders: PostgreSQL aborts one of them to break the deadlock."""
        first, second = picks
        if first % len(self.ids) == second % len(self.ids):
            second = first + 1
        batch: list[Operation] = [
            SetAliases(first, tuple(aliases)),
            SetAliases(second, tuple(reversed(aliases))),
            *also,
        ]
        self.apply(batch)

    # -- reading back

    def read_all(self) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        nodes: list[dict[str, Any]] = []
        after = None
        while True:
            data = self.worker.run(self.worker.post(self.key, READ_ALL, {"after": after}))
            page = data["all"]
            nodes += page["nodes"]
            if not page["pageInfo"]["hasNextPage"]:
                return nodes, data["active"]
            after = page["pageInfo"]["endCursor"]

    @invariant()
    def every_acknowledged_write_is_read_back(self) -> None:
        nodes, active = self.read_all()
        read = {
            node["id"]: State(
                handle=node["handle"],
                externalId=node["externalId"],
                email=node["email"],
                aliases=tuple(node["ingestAliases"]),
                description=node["description"],
                archived=node["isArchived"],
                version=node["version"],
            )
            for node in nodes
        }
        assert len(read) == len(nodes), "a customer is listed twice"
        assert read == self.model
        active_ids = {node["id"] for node in active["nodes"]}
        assert active_ids == {i for i, state in self.model.items() if not state.archived}
        assert active["totalCount"] == len(active_ids)
        # Uniqueness as read, independently of the model.
        seen: dict[tuple[str, str], str] = {}
        for customer_id, state in read.items():
            for key in state.unique_keys() if not state.archived else ():
                assert key not in seen, f"{key} held by {seen[key]} and {customer_id}"
                seen[key] = customer_id

    @invariant()
    def lookups_find_the_holder(self) -> None:
        holders = {
            key: i
            for i, state in self.model.items()
            if not state.archived
            for key in state.unique_keys()
        }
        lookups = [
            ("handle", "handle", HANDLES),
            ("externalId", "externalId", EXTERNAL_IDS),
            ("ingestAlias", "ingestAliases", ALIASES),
        ]
        fields = []
        expected: dict[str, str | None] = {}
        for argument, key, pool in lookups:
            for n, value in enumerate(pool):
                alias = f"{argument}{n}"
                spelled = value.upper() if n % 2 else value
                fields.append(f'{alias}: customer({argument}: "{spelled}") {{ id }}')
                expected[alias] = holders.get((key, value))
        data = self.worker.run(self.worker.post(self.key, "{ " + " ".join(fields) + " }", {}))
        found = {alias: (node or {}).get("id") for alias, node in data.items()}
        assert found == expected


@pytest.fixture
def worker(live_server: LiveServer, database_url: str) -> Iterator[Worker]:
    running = Worker(live_server.url, database_url)
    try:
        yield running
    finally:
        running.close()


def test_concurrent_writers_match_a_serial_order(worker: Worker) -> None:
    ConcurrentClients.worker = worker
    run_state_machine_as_test(
        ConcurrentClients,
        settings=settings(
            max_examples=MAX_EXAMPLES,
            stateful_step_count=STEPS,
            derandomize=True,
            database=None,
            # Outcomes depend on how the server interleaved a batch, so a failure does not
            # replay reliably: shrinking it would only rerun batches for minutes.
            phases=[Phase.explicit, Phase.generate],
            deadline=None,
            suppress_health_check=list(HealthCheck),
        ),
    )


def test_the_model_refuses_what_a_serial_order_cannot_explain() -> None:
    """The checker itself: two winners of one handle, or a TAKEN for a free value, or a
    lost update (a version that skips), are caught."""
    ids = ["c1"]
    model: Model = {"c1": State(handle="h0", version=3)}
    racing: list[Operation] = [Create(handle="h1"), Create(handle="H1")]
    won = Outcome({"id": "n1", "version": 1}, ())
    also_won = Outcome({"id": "n2", "version": 1}, ())
    taken = Outcome(None, (("TAKEN", ("input", "handle")),))
    assert linearize(model, ids, racing, [won, taken]) is not None
    assert linearize(model, ids, racing, [won, also_won]) is None
    assert linearize(model, ids, racing, [taken, taken]) is None
    updates: list[Operation] = [Update(0, {"description": "d0"}), Update(0, {"description": "d1"})]
    in_order = [Outcome({"id": "c1", "version": 4}, ()), Outcome({"id": "c1", "version": 5}, ())]
    after = linearize(model, ids, updates, in_order)
    assert after is not None and after["c1"].description == "d1"
    same_version = [Outcome({"id": "c1", "version": 4}, ())] * 2
    assert linearize(model, ids, updates, same_version) is None
    restore: list[Operation] = [Create(handle="h0"), Restore(0)]
    model["c1"] = replace(model["c1"], archived=True)
    assert linearize(model, ids, restore, [won, Outcome(None, (("TAKEN", ("input", "id")),))])
    assert linearize(model, ids, restore, [won, Outcome({"id": "c1", "version": 4}, ())]) is None
