"""Account settings > API Tokens, mounted at /account/tokens/."""

from __future__ import annotations

from django.urls import path, register_converter

from apitokens.views import changes, detail, listing, suggestions


class PublicIdConverter:
    """A token's public id (16 base62 characters). Anything else is a 404 before any query
    (PostgreSQL refuses NUL bytes in text, which would otherwise be a 500)."""

    regex = "[0-9A-Za-z]{1,32}"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(PublicIdConverter, "public_id")

app_name = "apitokens"

urlpatterns = [
    path("", listing.token_list, name="list"),
    path("new/", listing.token_new, name="new"),
    path("<public_id:public_id>/delete/", changes.token_delete, name="delete"),
    path("<public_id:public_id>/regenerate/", changes.token_regenerate, name="regenerate"),
    path("<public_id:public_id>/edit/", changes.token_edit, name="edit"),
    path(
        "<public_id:public_id>/suggestions/<str:kind>/apply/",
        suggestions.token_suggestion_apply,
        name="suggestion_apply",
    ),
    path(
        "<public_id:public_id>/suggestions/<str:kind>/dismiss/",
        suggestions.token_suggestion_dismissal,
        name="suggestion_dismiss",
    ),
    path("<public_id:public_id>/end-overlap/", changes.token_overlap_end, name="end_overlap"),
    path("<public_id:public_id>/pause/", changes.token_pause, name="pause"),
    path("<public_id:public_id>/resume/", changes.token_resume, name="resume"),
    path(
        "<public_id:public_id>/enforce-allowlist/",
        changes.token_allowlist_enforce,
        name="enforce_allowlist",
    ),
    path("<public_id:public_id>/first-request/", detail.token_first_request, name="first_request"),
    path("<public_id:public_id>/", detail.token_detail, name="detail"),
]
