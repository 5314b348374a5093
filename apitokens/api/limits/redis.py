"""The counters in Redis: atomic Lua scripts, one round trip per request.

The client is redis-py's own, built from the default cache's LOCATION and OPTIONS (so the
counters live where the cache does). Every key of a script carries the account's hash tag
(`{42}`), so a script's keys share one Redis Cluster slot; the per-IP failure count is a
separate single-key command sent in the same write and round trip.

A count can be sent before the token lookup and its answer read after it (`send_hit` /
`PendingHit.read`): the lookup and Redis then work at the same time.

On Redis Cluster (`ClusterCounters`, REDIS_CLUSTER on) the same scripts go through redis-py's
`RedisCluster`, which routes each call to its slot's node and follows MOVED and ASK; the count
is sent after the lookup, with the failure count's GET in the same pipeline.
"""

from __future__ import annotations

import redis
from redis.exceptions import NoScriptError

from common.redis_cluster import DJANGO_ONLY_OPTIONS, cluster_client

WINDOW_SECONDS = 3600
# Counter keys outlive their window-start key, so a request that read the start just
# before it expired still increments an existing counter (never a fresh, TTL-less one).
COUNTER_GRACE_SECONDS = 120

# KEYS[1]: the account's window-start key. ARGV: now, window, grace, counter key prefix
# (same hash tag as KEYS[1]). Returns {window start, requests counted in that window}.
_HIT_SCRIPT = """
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local start = tonumber(redis.call('GET', KEYS[1]) or '-1')
if start < 0 or now >= start + window then
  start = now
  redis.call('SET', KEYS[1], start, 'EX', window)
end
local counter = ARGV[4] .. start
local used = redis.call('INCR', counter)
if used == 1 then redis.call('EXPIRE', counter, window + tonumber(ARGV[3])) end
return {start, used}
"""

# KEYS[1]: a counter. ARGV: its lifetime when created, the amount to add.
_ADD_SCRIPT = """
local count = redis.call('INCRBY', KEYS[1], ARGV[2])
if count == tonumber(ARGV[2]) then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return count
"""


class RedisCounters:
    """Hourly and failure counters in one Redis (`location` is a redis:// URL)."""

    def __init__(self, location: str, options: dict, key_prefix: str = "") -> None:
        connection_options = {k: v for k, v in options.items() if k not in DJANGO_ONLY_OPTIONS}
        self.client = redis.Redis.from_url(location, **connection_options)
        self.pool = self.client.connection_pool
        self.hit_script = self.client.register_script(_HIT_SCRIPT)
        self.add_script = self.client.register_script(_ADD_SCRIPT)
        self.prefix = f"{key_prefix}:" if key_prefix else ""

    def account_key(self, user_id: int, suffix: str) -> str:
        return f"{self.prefix}qb:rl:{{{user_id}}}:{suffix}"

    def key(self, name: str) -> str:
        return f"{self.prefix}{name}"

    def send_hit(self, user_id: int, second: int, failures_key: str) -> PendingHit:
        """Send one count for the account (and the read of `failures_key`, when given)
        without waiting for the answer: one write, however many commands."""
        commands = [("EVALSHA", self.hit_script.sha, 1, *self._hit_call(user_id, second))]
        if failures_key:
            commands.insert(0, ("GET", self.key(failures_key)))
        connection = self.pool.get_connection()
        try:
            connection.send_packed_command(connection.pack_commands(commands))
        except BaseException:
            connection.disconnect()
            self.pool.release(connection)
            raise
        return PendingHit(self, user_id, second, bool(failures_key), connection)

    def _hit_call(self, user_id: int, second: int) -> tuple:
        return (
            self.account_key(user_id, "start"),
            second,
            WINDOW_SECONDS,
            COUNTER_GRACE_SECONDS,
            self.account_key(user_id, ""),
        )

    def give_back(self, user_id: int, start: int) -> None:
        """Take back one count of the account's window that started at `start`."""
        self.add_script(
            keys=[self.account_key(user_id, str(start))],
            args=[WINDOW_SECONDS + COUNTER_GRACE_SECONDS, -1],
        )

    def add(self, name: str, amount: int, timeout: int) -> int:
        """Add `amount` to a counter that expires `timeout` seconds after its creation."""
        return self.add_script(keys=[self.key(name)], args=[timeout, amount])

    def get_int(self, key: str) -> int:
        value = self.client.get(self.key(key))
        return int(value) if value is not None else 0

    def usage(self, user_id: int, second: int) -> tuple[int | None, int]:
        """(window start or None, requests counted in it), without counting."""
        start = self.client.get(self.account_key(user_id, "start"))
        if start is None or second >= int(start) + WINDOW_SECONDS:
            return None, 0
        used = self.client.get(self.account_key(user_id, start.decode()))
        return int(start), int(used or 0)


class PendingHit:
    """A count sent to Redis whose answer has not been read yet. `read` or `discard` it
    exactly once: until then the pool's connection holds an unread reply."""

    __slots__ = ("counters", "user_id", "second", "with_failures", "connection")

    def __init__(self, counters, user_id, second, with_failures, connection) -> None:
        self.counters = counters
        self.user_id = user_id
        self.second = second
        self.with_failures = with_failures
        self.connection = connection

    def read(self) -> tuple[int, int, int]:
        """(failures of the address, window start, requests counted). The connection goes
        back to the pool, or is dropped on any error so no one else reads this reply."""
        connection, self.connection = self.connection, None
        pool = self.counters.pool
        try:
            failures = int(connection.read_response() or 0) if self.with_failures else 0
            try:
                start, used = connection.read_response()
            except NoScriptError:  # Redis restarted: load the script and count again
                pool.release(connection)
                connection = None
                start, used = self.counters.hit_script(
                    keys=[self.counters.account_key(self.user_id, "start")],
                    args=self.counters._hit_call(self.user_id, self.second)[1:],
                )
        except BaseException:
            if connection is not None:
                connection.disconnect()
                pool.release(connection)
            raise
        if connection is not None:
            pool.release(connection)
        return failures, start, used

    def discard(self) -> None:
        """Read the answer and give the count back (the request was not admitted)."""
        _, start, _ = self.read()
        self.counters.give_back(self.user_id, start)


class ClusterCounters(RedisCounters):
    """The same counters on a Redis Cluster (`location`: any node's redis:// URL)."""

    def __init__(self, location: str, options: dict, key_prefix: str = "") -> None:
        self.client = cluster_client(location, options)
        self.hit_script = self.client.register_script(_HIT_SCRIPT)
        self.add_script = self.client.register_script(_ADD_SCRIPT)
        self.prefix = f"{key_prefix}:" if key_prefix else ""

    def send_hit(self, user_id: int, second: int, failures_key: str) -> ClusterPendingHit:
        """A count to run when read: nothing is sent before the lookup (the account's node
        and the address's may differ), so a refused token has nothing to give back."""
        return ClusterPendingHit(self, user_id, second, failures_key)


class ClusterPendingHit:
    """A count for `ClusterCounters`, run by `read`; `discard` has nothing to undo."""

    __slots__ = ("counters", "user_id", "second", "failures_key")

    def __init__(self, counters, user_id, second, failures_key) -> None:
        self.counters = counters
        self.user_id = user_id
        self.second = second
        self.failures_key = failures_key

    def read(self) -> tuple[int, int, int]:
        """(failures of the address, window start, requests counted): one pipeline, whose
        commands go to their slots' nodes at once; redirections are followed."""
        counters = self.counters
        call = counters._hit_call(self.user_id, self.second)
        pipeline = counters.client.pipeline()
        if self.failures_key:
            pipeline.get(counters.key(self.failures_key))
        pipeline.evalsha(counters.hit_script.sha, 1, *call)
        *failures, reply = pipeline.execute(raise_on_error=False)
        for answer in failures:
            if isinstance(answer, Exception):
                raise answer
        if isinstance(reply, NoScriptError):  # a new or restarted node: load it, count once
            reply = counters.hit_script(keys=call[:1], args=call[1:])
        elif isinstance(reply, Exception):
            raise reply
        start, used = reply
        return int(failures[0] or 0) if failures else 0, start, used

    def discard(self) -> None:
        """Nothing was sent."""
