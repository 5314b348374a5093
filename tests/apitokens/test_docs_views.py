from __future__ import annotations

from http import HTTPStatus

import pytest
from django.urls import reverse

from apitokens.api.openapi import ERROR_CATALOGUE


def test_api_docs_url_name_has_no_namespace():
    assert reverse("api-docs") == "/docs/api/"


@pytest.mark.django_db
def test_api_reference_is_public_and_complete(client):
    response = client.get("/docs/api/")
    assert response.status_code == HTTPStatus.OK
    page = response.content.decode()
    for anchor in (
        "authentication",
        "permissions",
        "endpoints",
        "errors",
        "rate-limits",
        "expiry",
        "troubleshooting",
        "openapi",
    ):
        assert f'id="{anchor}"' in page
        assert f'href="#{anchor}"' in page
    for path in ("/api/v1/me/", "/api/v1/tokens/", "/api/v1/tokens/current/", "/api/v1/activity/"):
        assert path in page
    assert "curl -sS http://testserver/api/v1/me/" in page
    assert "os.environ['QUICKBOT_TOKEN']" in page
    for header in (
        "X-RateLimit-Limit",
        "X-RateLimit-Remaining",
        "X-RateLimit-Used",
        "X-RateLimit-Reset",
        "RateLimit-Policy",
        "Retry-After",
        "QuickBot-Token-Expiration",
        "QuickBot-Token-Permissions",
        "QuickBot-Accepted-Permissions",
    ):
        assert header in page
    for _, error, _, _ in ERROR_CATALOGUE:
        assert f"<code>{error}</code>" in page


@pytest.mark.django_db
def test_troubleshooting_matches_the_help_article(client):
    page = client.get("/docs/api/").content.decode()
    for item in (
        "Verify the token:</strong> ensure you copied the complete token string",
        "Check the header format:</strong> use <code>Authorization: Bearer &lt;token&gt;</code>",
        "Confirm token status:</strong> make sure the token hasn't been deleted",
        "Review rate limits:</strong> you may have exceeded your hourly request limit",
    ):
        assert item in page
    assert "Account settings &gt; API Tokens" in page
    assert "Create Token" in page
    assert "Generate Token" in page


@pytest.mark.django_db
def test_api_reference_has_no_inline_script(client):
    page = client.get("/docs/api/").content.decode()
    assert "<script>" not in page
    assert " onclick=" not in page


@pytest.mark.django_db
def test_logged_in_user_gets_a_link_to_their_tokens(user_client):
    page = user_client.get("/docs/api/").content.decode()
    assert reverse("apitokens:list") in page


def test_api_reference_answers_head(client):
    # `require_GET` refused HEAD with 405.
    response = client.head("/docs/api/")
    assert response.status_code == 200


@pytest.mark.django_db
def test_api_reference_documents_the_revocation_endpoint_with_curl(client, settings):
    settings.QUICKBOT_CREDENTIAL_REPORT_LIMIT = 42
    page = client.get("/docs/api/").content.decode()
    assert 'id="endpoint-revoke"' in page and 'href="#endpoint-revoke"' in page
    assert "curl -sS -X POST http://testserver/api/v1/credentials/revoke" in page
    assert "reported as leaked" in page
    assert "42 reports per 60 minutes" in page


@pytest.mark.django_db
def test_api_reference_says_a_token_in_a_url_is_deleted(client):
    page = client.get("/docs/api/").content.decode()
    assert "sent in a URL" in page


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("link_id", "name", "scopes", "expiry"),
    [
        ("recipe-reporting-create", "Nightly Report Export", ["read"], "90"),
        ("recipe-ci-deploy-create", "CI Deploy Pipeline", ["read", "write"], "30"),
    ],
)
def test_each_recipe_links_to_a_create_form_filled_in_cleanly(
    client, user, link_id, name, scopes, expiry
):
    import re

    from django.http import QueryDict

    from apitokens.forms import TokenCreateForm
    from apitokens.forms.prefill import create_prefill

    page = client.get("/docs/api/").content.decode()
    assert 'href="#recipes"' in page
    [href] = re.findall(rf'id="{link_id}" href="([^"]+)"', page)
    path, _, query = href.replace("&amp;", "&").partition("?")
    assert path == reverse("apitokens:new")
    prefill = create_prefill(QueryDict(query), TokenCreateForm(user=user))
    assert prefill.ignored == []
    assert prefill.initial == {"name": name, "scopes": scopes, "expiry": expiry}
