"""The QuickBot API, mounted at /api/. The last route answers every other path with JSON 404."""

from __future__ import annotations

from django.urls import path, re_path

from apitokens.api import views as api_views

app_name = "api"

urlpatterns = [
    path("v1/me/", api_views.me, name="me"),
    path("v1/tokens/", api_views.token_list, name="token-list"),
    path("v1/tokens/current/", api_views.token_current, name="token-current"),
    # Spelled as GitLab's `…/self/rotate` (no slash); answered with one too.
    path("v1/tokens/current/rotate", api_views.token_rotate, name="token-rotate"),
    path("v1/tokens/current/rotate/", api_views.token_rotate),
    path("v1/activity/", api_views.activity_list, name="activity-list"),
    # The path GitHub's revocation API uses (no slash); with a slash too, like the others.
    re_path(r"^v1/credentials/revoke/?$", api_views.credentials_revoke, name="credentials-revoke"),
    path("v1/openapi.json", api_views.openapi_document, name="openapi"),
    re_path(r"^(?P<rest>.*)$", api_views.not_found, name="not-found"),
]
