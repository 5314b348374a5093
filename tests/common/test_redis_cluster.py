"""The Redis Cluster cache (common/redis_cluster.py): settings it refuses."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

PROJECT_DIR = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("prefix", ["{}", "qb{", "}", "{tenant}"])
def test_a_key_prefix_with_braces_is_refused(prefix):
    """Redis hashes a key's first {...} (all of it when empty): a brace in the prefix would
    move an account's keys into different slots, where its script cannot run."""
    result = subprocess.run(
        [sys.executable, "-c", "import quickbot.settings"],
        cwd=PROJECT_DIR,
        env={"PATH": "/usr/bin:/bin", "LOCAL_RUN": "1", "CACHE_KEY_PREFIX": prefix},
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0
    assert "CACHE_KEY_PREFIX must not contain braces" in result.stderr


def test_cluster_cache_refuses_a_database_other_than_zero():
    from django.core.exceptions import ImproperlyConfigured

    from common.redis_cluster import cluster_client

    with pytest.raises(ImproperlyConfigured, match="database 0 only"):
        cluster_client("redis://127.0.0.1:7101/6", {})
