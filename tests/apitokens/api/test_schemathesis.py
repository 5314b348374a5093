"""Schemathesis against a live server with a real token: no 500s, every response as documented.

Runs in the normal suite (CI included); marked `multiprocess` because it serves over a socket.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi import checks

from apitokens.models import TokenActivity
from tests.apitokens.factories import create_token

pytestmark = pytest.mark.multiprocess

CHECKS = [
    schemathesis.checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_headers_conformance,
    checks.response_schema_conformance,
]


@pytest.fixture
def api_schema(live_server, settings_override):
    return schemathesis.openapi.from_url(f"{live_server.url}/api/v1/openapi.json")


@pytest.fixture
def settings_override(settings):
    settings.QUICKBOT_ACTIVITY_BUFFER_SIZE = 0
    settings.QUICKBOT_API_HOURLY_LIMIT = 100_000
    settings.QUICKBOT_BAD_AUTH_LIMIT = 100_000
    settings.QUICKBOT_CREDENTIAL_REPORT_LIMIT = 100_000


@pytest.fixture
def real_token(transactional_db, user):
    _, raw = create_token(user, "Schemathesis", scopes=("read", "write"))
    return raw


def test_api_conforms_to_its_openapi_document(api_schema, real_token, user, live_server):
    headers = {"Authorization": f"Bearer {real_token}"}
    # Rotation replaces its token's value: it gets its own token, and each new value it
    # answers is the one the next generated rotation sends.
    _, rotating = create_token(user, "Schemathesis rotation", scopes=("read", "write"))
    current = {"value": rotating, "rotations": 0}
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) == 6
    # The self-deleting endpoint goes last: after it the token is gone (401s, also documented).
    operations.sort(key=lambda operation: operation.method.upper() == "DELETE")
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
        def check(case):
            rotates = case.operation.path.endswith("/rotate")
            sent = {"Authorization": f"Bearer {current['value']}"} if rotates else headers
            response = case.call_and_validate(base_url=live_server.url, headers=sent, checks=CHECKS)
            if rotates and response.status_code == 201:
                current["value"] = response.json()["value"]
                current["rotations"] += 1

        check()
    # The token really authenticated the generated requests (each one left an activity row).
    assert TokenActivity.objects.filter(status=200).count() > 50
    assert current["rotations"] > 10
