from __future__ import annotations

from http import HTTPStatus

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.http import JsonResponse
from django.test import Client, RequestFactory
from django.urls import include, path

from apitokens.api.decorators import required_scopes, token_required
from tests.apitokens.factories import create_token


@token_required
def plain_view(request):
    return JsonResponse({"user": request.user.email, "token": request.auth.public_id})


@token_required(scopes=["write"])
def write_even_for_get(request):
    return JsonResponse({"ok": True})


def portal_view(request):
    return JsonResponse({"authenticated": request.user.is_authenticated})


urlpatterns = [
    path("plain/", plain_view),
    path("needs-write/", write_even_for_get),
    path("portal/", portal_view),
    path("", include("quickbot.urls")),
]

pytestmark = pytest.mark.urls("tests.apitokens.api.test_decorators")


@pytest.fixture(autouse=True)
def _unbuffered_activity(settings):
    settings.QUICKBOT_ACTIVITY_BUFFER_SIZE = 0


def bearer(raw):
    return {"Authorization": f"Bearer {raw}"}


def test_required_scopes_follow_the_method():
    assert required_scopes("GET") == ("read",)
    assert required_scopes("HEAD") == ("read",)
    assert required_scopes("POST") == ("write",)
    assert required_scopes("DELETE") == ("write",)
    assert required_scopes("GET", ["write"]) == ("read", "write")


@pytest.mark.django_db
def test_decorator_works_on_any_function_view(client, user):
    token, raw = create_token(user)
    response = client.get("/plain/", headers=bearer(raw))
    assert response.status_code == HTTPStatus.OK
    assert response.json() == {"user": user.email, "token": token.public_id}


@pytest.mark.django_db
def test_unsafe_method_with_read_token_is_403_insufficient_scope(user):
    _, raw = create_token(user, scopes=("read",))
    response = Client().post("/plain/", headers=bearer(raw))
    assert response.status_code == HTTPStatus.FORBIDDEN
    body = response.json()
    assert body["error"] == "insufficient_scope"
    assert response["WWW-Authenticate"] == (
        f'Bearer realm="QuickBot API", error="insufficient_scope", '
        f'error_description="{body["detail"]}", scope="write"'
    )


@pytest.mark.django_db
def test_view_can_demand_more_than_the_method(client, user):
    _, read_raw = create_token(user, "Reader", scopes=("read",))
    _, write_raw = create_token(user, "Writer", scopes=("read", "write"))
    assert client.get("/needs-write/", headers=bearer(read_raw)).status_code == 403
    assert client.get("/needs-write/", headers=bearer(write_raw)).status_code == 200


@pytest.mark.django_db
def test_write_only_token_cannot_read(client, user):
    _, raw = create_token(user, scopes=("write",))
    response = client.get("/plain/", headers=bearer(raw))
    assert response.status_code == HTTPStatus.FORBIDDEN
    assert 'scope="read"' in response["WWW-Authenticate"]


@pytest.mark.django_db
def test_api_views_are_csrf_exempt(user):
    _, raw = create_token(user, scopes=("read", "write"))
    client = Client(enforce_csrf_checks=True)
    assert client.post("/plain/", headers=bearer(raw)).status_code == HTTPStatus.OK


@pytest.mark.django_db
def test_undecorated_view_ignores_bearer_tokens(client, user):
    _, raw = create_token(user)
    response = client.get("/portal/", headers=bearer(raw))
    assert response.json() == {"authenticated": False}


@pytest.mark.django_db
def test_session_on_decorated_view_is_401(user_client):
    assert user_client.get("/plain/").status_code == HTTPStatus.UNAUTHORIZED


def test_decorator_without_middleware_is_a_configuration_error():
    with pytest.raises(ImproperlyConfigured):
        plain_view(RequestFactory().get("/plain/"))
