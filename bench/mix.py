"""The soak's mix: weighted reads and writes over the bench dataset, a check on every answer,
and the ledger of acknowledged writes that the soak reads back at the end.

Each connection of the soak owns the customers it creates: only that connection changes
them, one request at a time, so it knows what each one must look like now (its fields, its
version, archived or not, its subscriptions). Reads of its own customers check exactly
that; writes name the version they expect. Other reads check what the dataset fixes (an ID,
an archived customer not found by external ID) or only that the answer has no errors.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson

from bench.common import OPERATIONS, operation
from bench.dataset import CODES

Data = dict[str, Any]  # the `data` of an answer

CUSTOMER = "fragment SoakCustomer on Customer {"
CUSTOMER += " id handle externalId displayName email countryCode version isArchived }"
PROBLEMS = "userErrors { code field message }"


def _mutation(name: str, field_name: str, input_type: str, selection: str) -> str:
    return (
        f"mutation {name}($input: {input_type}!) {{ {field_name}(input: $input)"
        f" {{ {selection} {PROBLEMS} }} }}"
    )


def _customer_mutation(name: str, field_name: str, input_type: str) -> str:
    return _mutation(name, field_name, input_type, "customer { ...SoakCustomer }") + CUSTOMER


DOCUMENTS = {
    "create": _customer_mutation("SoakCreate", "createCustomer", "CreateCustomerInput"),
    "update": _customer_mutation("SoakUpdate", "updateCustomer", "UpdateCustomerInput"),
    "archive": _customer_mutation("SoakArchive", "archiveCustomer", "ArchiveCustomerInput"),
    "restore": _customer_mutation("SoakRestore", "restoreCustomer", "RestoreCustomerInput"),
    "subscribe": _mutation(
        "SoakSubscribe", "createSubscription", "CreateSubscriptionInput", "subscription { id }"
    ),
    "own": "query SoakOwn($id: ID!) { customer(id: $id) { ...SoakCustomer } }" + CUSTOMER,
    "handle": "query SoakHandle($handle: String!) { customer(handle: $handle) { id } }",
    "external": "query SoakExternal($id: String!) { customer(externalId: $id) { id } }",
    "search": (
        "query SoakSearch($filter: String!) {"
        " customers(first: 20, filter: $filter) { nodes { id displayName countryCode } } }"
    ),
    "plans": "query SoakPlans { plans(first: 10) { nodes { id } } }",
    "read back": (
        "query SoakReadBack($ids: [ID!]!) { nodes(ids: $ids) { ... on Customer {"
        " ...SoakCustomer subscriptionCount subscriptions(first: 100) { nodes { id } } } } }"
        + CUSTOMER
    ),
}
NESTED = (OPERATIONS / "CustomersNested.graphql").read_text()
PERSISTED = operation("q1")  # q1 again, sent by its hash alone (automatic persisted queries)
PERSISTED_HASH = hashlib.sha256(PERSISTED.encode()).hexdigest()
READ_BACK_BATCH = 100  # what `nodes(ids:)` takes at most

# Out of 100 requests: 80 reads, 20 writes.
READS = {
    "q1": 12,  # a page of 50 customers (the bench's documents, bench/README.md)
    "q1 persisted": 6,  # the same, by hash
    "q2": 4,  # the page with 10 subscriptions and 10 instances each
    "q3": 18,  # a dataset customer by ID, 10 scalars
    "nested": 4,  # CustomersNested: every nested list and count of 10 customers
    "search": 6,  # an AIP-160 filter on country
    "own": 14,  # one of this connection's customers by ID: all it last wrote
    "handle": 8,  # one of this connection's customers by handle
    "external": 8,  # a dataset customer by external ID (archived ones are not found)
}
WRITES = {
    "create": 8,  # createCustomer, unique handle and external ID
    "update": 6,  # updateCustomer with expectedVersion: name, email, country
    "archive/restore": 3,  # archiveCustomer, or restoreCustomer when archived
    "subscribe": 3,  # createSubscription on one of this connection's active customers
}
WEIGHTS = READS | WRITES
NEEDS_OWN = {"own", "archive/restore"}  # one of the connection's own customers
NEEDS_ACTIVE = {"handle", "update", "subscribe"}  # one that is not archived


class Unexpected(Exception):
    """A 200 answer without `errors` that is still wrong: user errors, or other data than
    the soak's own writes (or the dataset) say it must hold."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(f"{kind}: {detail}")
        self.kind, self.detail = kind, detail


@dataclass(slots=True)
class Written:
    """A customer the soak created, as its last acknowledged write left it."""

    id: str
    handle: str
    external_id: str
    display_name: str
    email: str
    country_code: str
    version: int
    archived: bool = False
    subscriptions: list[str] = field(default_factory=list)

    def fields(self) -> Data:
        """The SoakCustomer fragment this customer must answer."""
        return {
            "id": self.id,
            "handle": self.handle,
            "externalId": self.external_id,
            "displayName": self.display_name,
            "email": self.email,
            "countryCode": self.country_code,
            "version": self.version,
            "isArchived": self.archived,
        }


@dataclass(frozen=True, slots=True)
class Call:
    """One request of the mix and the check of its answer's `data` (it raises Unexpected,
    and it records the write in the ledger once acknowledged)."""

    op: str
    payload: bytes
    check: Callable[[Data], None]


@dataclass(frozen=True, slots=True)
class World:
    """What every connection shares: the run's token, the dataset's first tenant, its plans."""

    token: str  # makes handles and external IDs unique to the run
    dataset: list[tuple[str, str, bool]]  # (ID, external ID, archived?); first_tenant_customers
    plans: list[str]


def body(op: str, variables: Data | None = None) -> bytes:
    """The POST body of one of the soak's own documents."""
    payload: Data = {"query": DOCUMENTS[op]}
    if variables is not None:
        payload["variables"] = variables
    return orjson.dumps(payload)


def persisted_body(with_document: bool) -> bytes:
    """q1 by hash; `with_document` registers it (the soak does once before the load)."""
    extensions = {"persistedQuery": {"version": 1, "sha256Hash": PERSISTED_HASH}}
    payload: Data = {"extensions": extensions}
    if with_document:
        payload["query"] = PERSISTED
    return orjson.dumps(payload)


def _problems(payload: Data) -> None:
    if payload["userErrors"]:
        raise Unexpected("userErrors", orjson.dumps(payload["userErrors"]).decode()[:300])


def _same(found: Any, expected: Any, what: str) -> None:
    if found != expected:
        raise Unexpected("wrong data", f"{what}: expected {expected}, got {found}")


def _nonempty(root: str) -> Callable[[Data], None]:
    def check(data: Data) -> None:
        if data.get(root) is None:
            raise Unexpected("wrong data", f"{root} is null")

    return check


@dataclass(slots=True)
class Client:
    """One connection's share of the mix: its random stream and the customers it owns."""

    number: int
    world: World
    rng: random.Random
    owned: list[Written] = field(default_factory=list)
    created: int = 0  # creates sent, acknowledged or not: numbers handles

    def next_call(self) -> Call:
        op = self.rng.choices(list(WEIGHTS), weights=list(WEIGHTS.values()))[0]
        active = [each for each in self.owned if not each.archived]
        if (op in NEEDS_OWN and not self.owned) or (op in NEEDS_ACTIVE and not active):
            op = "create"
        if op == "create":
            return self._create()
        if op == "update":
            return self._update(self.rng.choice(active))
        if op == "archive/restore":
            return self._archive_restore(self.rng.choice(self.owned))
        if op == "own":
            return self._own(self.rng.choice(self.owned))
        if op == "subscribe":
            return self._subscribe(self.rng.choice(active))
        if op == "handle":
            return self._handle(self.rng.choice(active))
        return self._read(op)

    # Reads

    def _read(self, op: str) -> Call:
        if op in ("q1", "q2"):
            return Call(op, orjson.dumps({"query": operation(op)}), _nonempty("customers"))
        if op == "q1 persisted":
            return Call(op, persisted_body(with_document=False), _nonempty("customers"))
        if op == "nested":
            payload = {"query": NESTED, "variables": {"first": 10}}
            return Call(op, orjson.dumps(payload), _nonempty("customers"))
        if op == "search":
            country = self.rng.choice(CODES)
            variables = {"filter": f"country_code = '{country}'"}
            return Call(op, body(op, variables), _nonempty("customers"))
        customer_id, external_id, archived = self.rng.choice(self.world.dataset)
        if op == "q3":
            payload = {"query": operation("q3"), "variables": {"id": customer_id}}
            return Call(op, orjson.dumps(payload), self._id_check(customer_id, "customer"))
        expected = None if archived else customer_id  # archived ones are not looked up
        return Call(op, body(op, {"id": external_id}), self._id_check(expected, external_id))

    @staticmethod
    def _id_check(expected: str | None, what: str) -> Callable[[Data], None]:
        def check(data: Data) -> None:
            found = data["customer"]
            _same(None if found is None else found["id"], expected, what)

        return check

    def _own(self, customer: Written) -> Call:
        def check(data: Data) -> None:
            _same(data["customer"], customer.fields(), customer.id)

        return Call("own", body("own", {"id": customer.id}), check)

    def _handle(self, customer: Written) -> Call:
        return Call(
            "handle",
            body("handle", {"handle": customer.handle}),
            self._id_check(customer.id, customer.handle),
        )

    # Writes

    def _values(self, number: int, change: int) -> Data:
        tag = f"{self.world.token}-{self.number}-{number}"
        return {
            "displayName": f"Soak {tag} v{change}",
            "email": f"soak-{tag}-v{change}@example.com",
            "countryCode": self.rng.choice(CODES),
        }

    def _create(self) -> Call:
        self.created += 1
        tag = f"{self.world.token}-{self.number}-{self.created}"
        values = {"handle": f"soak-{tag}", "externalId": f"soak-ext-{tag}"}
        values |= self._values(self.created, 0)

        def check(data: Data) -> None:
            payload = data["createCustomer"]
            _problems(payload)
            found = payload["customer"]
            if found is None:
                raise Unexpected("wrong data", "createCustomer answered no customer")
            written = Written(
                id=found["id"],
                handle=values["handle"],
                external_id=values["externalId"],
                display_name=values["displayName"],
                email=values["email"],
                country_code=values["countryCode"],
                version=1,
            )
            _same(found, written.fields(), "createCustomer")
            self.owned.append(written)

        return Call("create", body("create", {"input": values}), check)

    def _update(self, customer: Written) -> Call:
        number = int(customer.handle.rsplit("-", 1)[1])
        values = self._values(number, customer.version)
        variables = {"input": {"id": customer.id, "expectedVersion": customer.version, **values}}

        def check(data: Data) -> None:
            payload = data["updateCustomer"]
            _problems(payload)
            customer.display_name = values["displayName"]
            customer.email = values["email"]
            customer.country_code = values["countryCode"]
            customer.version += 1
            _same(payload["customer"], customer.fields(), "updateCustomer")

        return Call("update", body("update", variables), check)

    def _archive_restore(self, customer: Written) -> Call:
        op, root = (
            ("restore", "restoreCustomer") if customer.archived else ("archive", "archiveCustomer")
        )

        def check(data: Data) -> None:
            payload = data[root]
            _problems(payload)
            customer.archived = not customer.archived
            customer.version += 1
            _same(payload["customer"], customer.fields(), root)

        return Call("archive/restore", body(op, {"input": {"id": customer.id}}), check)

    def _subscribe(self, customer: Written) -> Call:
        plan = self.rng.choice(self.world.plans)

        def check(data: Data) -> None:
            payload = data["createSubscription"]
            _problems(payload)
            if payload["subscription"] is None:
                raise Unexpected("wrong data", "createSubscription answered no subscription")
            customer.subscriptions.append(payload["subscription"]["id"])

        variables = {"input": {"customerId": customer.id, "planId": plan}}
        return Call("subscribe", body("subscribe", variables), check)


def read_back_bodies(written: list[Written]) -> Iterable[tuple[list[Written], bytes]]:
    """The read-back requests: every acknowledged customer, 100 to a request."""
    for start in range(0, len(written), READ_BACK_BATCH):
        batch = written[start : start + READ_BACK_BATCH]
        yield batch, body("read back", {"ids": [each.id for each in batch]})


def lost(batch: list[Written], data: Data) -> list[str]:
    """What the database lost of one read-back batch: a line per customer that differs from
    its last acknowledged write (missing, other fields or version, missing subscriptions)."""
    found = []
    for customer, node in zip(batch, data["nodes"], strict=True):
        if node is None:
            found.append(f"{customer.id} ({customer.handle}): not found")
            continue
        subscriptions = {each["id"] for each in node.pop("subscriptions")["nodes"]}
        count = node.pop("subscriptionCount")
        differs = []
        if node != customer.fields():
            differs.append(f"expected {customer.fields()}, read {node}")
        if count != len(customer.subscriptions) or not subscriptions >= set(customer.subscriptions):
            differs.append(f"subscriptions {sorted(customer.subscriptions)}, read {count}")
        if differs:
            found.append(f"{customer.id}: " + "; ".join(differs))
    return found
