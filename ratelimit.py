"""Rate limiting per API key: a token bucket of RATE_LIMIT_PER_MINUTE tokens refilled evenly.

With REDIS_URL the bucket lives in Redis and one Lua script takes a token atomically, so
every process shares it; without, each process keeps its own buckets in memory. If Redis
cannot be reached the request is let through (and logged): an outage of the limiter must
not become an outage of the API.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from typing import Any, Protocol

log = logging.getLogger("customergraph.ratelimit")

BUCKET_SCRIPT = """
local capacity = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or capacity
local at = tonumber(state[2]) or now
tokens = math.min(capacity, tokens + math.max(0, now - at) * rate)
local allowed = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('EXPIRE', KEYS[1], math.ceil(capacity / rate) + 60)
return {allowed, tostring(tokens)}
"""


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    retry_after: int
    limit: int


class Limiter(Protocol):
    limit: int

    async def take(self, key: str) -> Decision: ...


def _decision(limit: int, allowed: bool, tokens: float) -> Decision:
    rate = limit / 60
    wait = 0 if allowed else math.ceil((1 - tokens) / rate)
    return Decision(allowed, max(wait, 0 if allowed else 1), limit)


class MemoryLimiter:
    """One process's buckets; enough for a single process or SQLite deployments."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._buckets: dict[str, tuple[float, float]] = {}

    async def take(self, key: str) -> Decision:
        now = time.monotonic()
        tokens, at = self._buckets.get(key, (float(self.limit), now))
        tokens = min(float(self.limit), tokens + (now - at) * self.limit / 60)
        allowed = tokens >= 1
        if allowed:
            tokens -= 1
        self._buckets[key] = (tokens, now)
        return _decision(self.limit, allowed, tokens)


class RedisLimiter:
    """Buckets shared by every process through Redis, taken atomically by a Lua script."""

    def __init__(self, limit: int, url: str) -> None:
        from redis.asyncio import Redis

        self.limit = limit
        self._redis: Any = Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)
        self._script = self._redis.register_script(BUCKET_SCRIPT)

    async def take(self, key: str) -> Decision:
        from redis.exceptions import RedisError

        try:
            allowed, tokens = await self._script(
                keys=[f"customergraph:ratelimit:{key}"], args=[self.limit, self.limit / 60]
            )
        except (RedisError, OSError):
            log.warning("rate limiter unavailable; letting the request through", exc_info=True)
            return Decision(True, 0, self.limit)
        return _decision(self.limit, bool(int(allowed)), float(tokens))

    async def close(self) -> None:
        await self._redis.aclose()


def make_limiter(limit: int, redis_url: str | None) -> MemoryLimiter | RedisLimiter | None:
    """None when RATE_LIMIT_PER_MINUTE is 0 (disabled)."""
    if limit <= 0:
        return None
    return RedisLimiter(limit, redis_url) if redis_url else MemoryLimiter(limit)
