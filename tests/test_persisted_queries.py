"""Automatic persisted queries: PersistedQueryNotFound, then registration, then hash only."""

from __future__ import annotations

import hashlib
import json

import pytest
from conftest import TenantHandle

from domain.errors import BadUserInput
from domain.persisted import PersistedQueries, PersistedQueryNotFound

QUERY = "query Viewer { viewer { tenant { name } } }"
DIGEST = hashlib.sha256(QUERY.encode()).hexdigest()


def persisted(digest: str = DIGEST) -> dict[str, object]:
    return {"persistedQuery": {"version": 1, "sha256Hash": digest}}


async def test_apq_not_found_then_registered_then_served_by_hash(tenant: TenantHandle) -> None:
    http, auth = tenant.api.http, {"Authorization": f"Bearer {tenant.key}"}
    unknown = await http.post("/graphql", json={"extensions": persisted()}, headers=auth)
    assert unknown.status_code == 200
    assert unknown.json()["errors"][0]["message"] == "PersistedQueryNotFound"
    assert unknown.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"
    registered = await http.post(
        "/graphql", json={"query": QUERY, "extensions": persisted()}, headers=auth
    )
    assert registered.json()["data"] == {"viewer": {"tenant": {"name": tenant.name}}}
    by_hash = await http.post("/graphql", json={"extensions": persisted()}, headers=auth)
    assert by_hash.json() == registered.json()
    params = {"extensions": json.dumps(persisted()), "operationName": "Viewer"}
    by_get = await http.get("/graphql", params=params, headers=auth)
    assert by_get.status_code == 200 and by_get.json() == registered.json()


async def test_apq_hash_mismatch_is_refused_and_not_registered(tenant: TenantHandle) -> None:
    http, auth = tenant.api.http, {"Authorization": f"Bearer {tenant.key}"}
    other = hashlib.sha256(b"something else").hexdigest()
    wrong = await http.post(
        "/graphql", json={"query": QUERY, "extensions": persisted(other)}, headers=auth
    )
    assert wrong.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    after = await http.post("/graphql", json={"extensions": persisted(other)}, headers=auth)
    assert after.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"


def test_persisted_queries_are_bounded_least_recently_used_first() -> None:
    cache = PersistedQueries(max_entries=2)
    documents = [f"{{ a{n}: __typename }}" for n in range(3)]
    digests = [hashlib.sha256(d.encode()).hexdigest() for d in documents]
    for document, digest in zip(documents[:2], digests[:2], strict=True):
        cache.resolve(document, persisted(digest))
    assert cache.resolve(None, persisted(digests[0])) == documents[0]  # now most recent
    cache.resolve(documents[2], persisted(digests[2]))
    assert len(cache) == 2
    assert cache.resolve(None, persisted(digests[0])) == documents[0]
    with pytest.raises(PersistedQueryNotFound):
        cache.resolve(None, persisted(digests[1]))
    with pytest.raises(BadUserInput):
        cache.resolve(None, {"persistedQuery": {"version": 2, "sha256Hash": digests[0]}})
