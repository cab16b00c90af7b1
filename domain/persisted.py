"""Automatic persisted queries (Apollo's APQ): documents by SHA-256, in a bounded LRU."""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from typing import Any

from domain.errors import ApiError, BadUserInput

MAX_ENTRIES = 2000
MAX_DOCUMENT = 100_000


class PersistedQueryNotFound(ApiError):
    code = "PERSISTED_QUERY_NOT_FOUND"

    def __init__(self) -> None:
        super().__init__("PersistedQueryNotFound")


class PersistedQueries:
    """Known documents by hash; the least recently used goes first when full."""

    def __init__(self, max_entries: int = MAX_ENTRIES) -> None:
        self.max_entries = max_entries
        self._documents: OrderedDict[str, str] = OrderedDict()

    def __len__(self) -> int:
        return len(self._documents)

    def resolve(self, query: str | None, extensions: dict[str, Any] | None) -> str | None:
        """The document to run: the one sent (registered under its hash when it carries
        one), or the registered one for a hash alone; PersistedQueryNotFound otherwise."""
        persisted = (extensions or {}).get("persistedQuery")
        if not isinstance(persisted, dict):
            return query
        digest = persisted.get("sha256Hash")
        if persisted.get("version") != 1 or not isinstance(digest, str) or len(digest) != 64:
            raise BadUserInput("Unsupported persistedQuery: version 1 with a sha256Hash")
        if query is None:
            known = self._documents.get(digest)
            if known is None:
                raise PersistedQueryNotFound
            self._documents.move_to_end(digest)
            return known
        if hashlib.sha256(query.encode()).hexdigest() != digest:
            raise BadUserInput("provided sha does not match query")
        if len(query) <= MAX_DOCUMENT:
            self._documents[digest] = query
            self._documents.move_to_end(digest)
            while len(self._documents) > self.max_entries:
                self._documents.popitem(last=False)
        return query
