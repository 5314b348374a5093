"""Redis Cluster: the client every use of Redis shares the settings of, and a Django cache on it.

Django's `RedisCache` and a plain `redis.Redis` talk to one server: on a cluster node, every key
whose slot lives elsewhere is answered with a MOVED redirection they do not follow. With
REDIS_CLUSTER on, the cache (`RedisClusterCache`) and the API's counters
(`apitokens.api.limits.redis.ClusterCounters`) use redis-py's `RedisCluster`, seeded by
REDIS_URL (any node): it learns the slot map, follows MOVED and ASK, and refreshes the map
after a failover. Public APIs only (Django's `BaseCache`, `RedisSerializer`; redis-py's
`RedisCluster`).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from django.core.cache.backends.base import DEFAULT_TIMEOUT, BaseCache
from django.core.cache.backends.redis import RedisSerializer
from django.core.exceptions import ImproperlyConfigured

# Options of Django's RedisCache that are not redis-py connection options.
DJANGO_ONLY_OPTIONS = frozenset({"parser_class", "pool_class", "serializer", "db"})


def cluster_client(location: str, options: dict):
    """A `RedisCluster` seeded by the node at `location` (a redis:// URL, database 0).

    A failed command is not retried: a retry after a lost reply would count twice, and the
    callers already serve without Redis for the moment a failover takes (logged). The slot map
    is refreshed before the next command instead.
    """
    from redis.backoff import NoBackoff
    from redis.cluster import RedisCluster
    from redis.retry import Retry

    database = urlsplit(location).path.strip("/") or "0"
    if database != "0":
        raise ImproperlyConfigured(
            f"REDIS_URL {location!r}: Redis Cluster has database 0 only (use a key prefix)"
        )
    connection_options = {k: v for k, v in options.items() if k not in DJANGO_ONLY_OPTIONS}
    return RedisCluster.from_url(location, retry=Retry(NoBackoff(), 0), **connection_options)


class RedisClusterCache(BaseCache):
    """Django's Redis cache on a Redis Cluster: the same values (`RedisSerializer`) and
    semantics as `django.core.cache.backends.redis.RedisCache`, keys routed by slot."""

    def __init__(self, server: str | list[str], params: dict) -> None:
        super().__init__(params)
        self.location = server if isinstance(server, str) else server[0]
        self.location = self.location.split(",")[0].split(";")[0]
        self.options = params.get("OPTIONS", {})
        self.serializer = RedisSerializer()
        self.client = None

    def get_client(self):
        """The process's cluster client (built on first use: it reads the slot map)."""
        if self.client is None:
            self.client = cluster_client(self.location, self.options)
        return self.client

    def get_backend_timeout(self, timeout=DEFAULT_TIMEOUT):
        if timeout == DEFAULT_TIMEOUT:
            timeout = self.default_timeout
        # None keeps the key forever; 0 or less deletes it (as RedisCache).
        return None if timeout is None else max(0, int(timeout))

    def add(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        key = self.make_and_validate_key(key, version=version)
        timeout = self.get_backend_timeout(timeout)
        client = self.get_client()
        value = self.serializer.dumps(value)
        if timeout == 0:
            if added := bool(client.set(key, value, nx=True)):
                client.delete(key)
            return added
        return bool(client.set(key, value, ex=timeout, nx=True))

    def get(self, key, default=None, version=None):
        key = self.make_and_validate_key(key, version=version)
        value = self.get_client().get(key)
        return default if value is None else self.serializer.loads(value)

    def set(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        key = self.make_and_validate_key(key, version=version)
        timeout = self.get_backend_timeout(timeout)
        if timeout == 0:
            self.get_client().delete(key)
        else:
            self.get_client().set(key, self.serializer.dumps(value), ex=timeout)

    def touch(self, key, timeout=DEFAULT_TIMEOUT, version=None):
        key = self.make_and_validate_key(key, version=version)
        timeout = self.get_backend_timeout(timeout)
        if timeout is None:
            return bool(self.get_client().persist(key))
        return bool(self.get_client().expire(key, timeout))

    def delete(self, key, version=None):
        key = self.make_and_validate_key(key, version=version)
        return bool(self.get_client().delete(key))

    def get_many(self, keys, version=None):
        key_map = {self.make_and_validate_key(key, version=version): key for key in keys}
        if not key_map:
            return {}
        # One MGET per slot: a cluster refuses an MGET whose keys span slots.
        values = self.get_client().mget_nonatomic(list(key_map))
        return {
            key_map[key]: self.serializer.loads(value)
            for key, value in zip(key_map, values, strict=True)
            if value is not None
        }

    def has_key(self, key, version=None):
        key = self.make_and_validate_key(key, version=version)
        return bool(self.get_client().exists(key))

    def incr(self, key, delta=1, version=None):
        key = self.make_and_validate_key(key, version=version)
        client = self.get_client()
        if not client.exists(key):
            raise ValueError(f"Key '{key}' not found.")
        return client.incr(key, delta)

    def set_many(self, data, timeout=DEFAULT_TIMEOUT, version=None):
        if not data:
            return []
        timeout = self.get_backend_timeout(timeout)
        client = self.get_client()
        pipeline = client.pipeline()  # routes each command to its slot's node
        for key, value in data.items():
            key = self.make_and_validate_key(key, version=version)
            if timeout == 0:
                pipeline.delete(key)
            else:
                pipeline.set(key, self.serializer.dumps(value), ex=timeout)
        pipeline.execute()
        return []

    def delete_many(self, keys, version=None):
        if not keys:
            return
        # RedisCluster's DEL sends one command per slot.
        safe_keys = [self.make_and_validate_key(key, version=version) for key in keys]
        self.get_client().delete(*safe_keys)

    def clear(self):
        """Empty every master (FLUSHDB goes to all of them), like RedisCache's FLUSHDB."""
        return bool(self.get_client().flushdb())

    def close(self, **kwargs):
        """Connections stay open between requests, as RedisCache keeps its pools."""
