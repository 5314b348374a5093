"""Bulk rows for audit tests: activity written straight to the table, staff accounts."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.contrib.auth.models import Permission

from apitokens import activity
from apitokens.models import APIToken, TokenActivity
from tests.accounts.factories import UserFactory


def add_activity(
    token: APIToken,
    *,
    count: int = 1,
    at: datetime,
    step: timedelta = timedelta(minutes=1),
    status: int = 200,
    ip: str | None = "198.51.100.10",
    method: str = "GET",
    path: str = "/api/v1/me/",
    flagged: bool = False,
    used_previous_value: bool = False,
    user_agent: str = "curl/8.5.0",
    outside_allowlist: bool = False,
) -> list[TokenActivity]:
    """`count` requests made with `token`, the first at `at`, then every `step`, with their
    hourly rollups and address facts (as the activity writer adds them)."""
    rows = TokenActivity.objects.bulk_create(
        TokenActivity(
            token=token,
            owner_id=token.owner_id,
            created_at=at + step * index,
            method=method,
            path=path,
            status=status,
            ip=ip,
            user_agent=user_agent,
            duration_ms=12,
            flagged=flagged,
            used_previous_value=used_previous_value,
            outside_allowlist=outside_allowlist,
        )
        for index in range(count)
    )
    activity.rollups_add(activity.activity_rows(rows))
    return rows


def staff_user(*permissions: str, email: str | None = None):
    """A staff account (not superuser) holding the given `app.codename` permissions."""
    kwargs = {"email": email} if email else {}
    user = UserFactory(is_staff=True, **kwargs)
    for permission in permissions:
        app_label, codename = permission.split(".")
        user.user_permissions.add(
            Permission.objects.get(content_type__app_label=app_label, codename=codename)
        )
    return user


AUDIT_VIEW_PERMISSIONS = (
    "apitokens.view_apitoken",
    "apitokens.view_tokenactivity",
    "apitokens.view_securityevent",
)
