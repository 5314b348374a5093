"""The account admin (accounts/admin.py): the user changelist and forms, the security log read-only,
and the admin login routed through the portal's login page."""

from __future__ import annotations

from http import HTTPStatus

import pytest
from django.contrib.auth import SESSION_KEY
from django.test import Client
from django.urls import reverse

from accounts.models import User
from tests.accounts.factories import DEFAULT_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db


STRONG = "quiet-otter-lantern-42"


@pytest.fixture
def superuser():
    return User.objects.create_superuser("root@example.com", DEFAULT_PASSWORD)


@pytest.fixture
def admin_session(client, superuser):
    client.force_login(superuser)
    return client


def test_changelist_lists_accounts(admin_session, user):
    response = admin_session.get(reverse("admin:accounts_user_changelist"))

    assert response.status_code == HTTPStatus.OK
    assert "ada@example.com" in response.content.decode()
    assert "Ada Lovelace" in response.content.decode()


@pytest.mark.parametrize("query", ["ADA@EXAMPLE", "lovelace"])
def test_changelist_searches_email_and_display_name(admin_session, user, other_user, query):
    response = admin_session.get(reverse("admin:accounts_user_changelist"), {"q": query})

    shown = list(response.context["cl"].result_list)
    assert shown == [user]


def test_changelist_filters_by_active(admin_session, user, other_user):
    other_user.is_active = False
    other_user.save()

    response = admin_session.get(
        reverse("admin:accounts_user_changelist"), {"is_active__exact": "0"}
    )

    assert list(response.context["cl"].result_list) == [other_user]


def test_add_form_creates_an_account_with_a_usable_password(admin_session):
    response = admin_session.post(
        reverse("admin:accounts_user_add"),
        {
            "email": "added@example.com",
            "display_name": "Added",
            "password1": STRONG,
            "password2": STRONG,
        },
    )

    assert response.status_code == HTTPStatus.FOUND, response.context["adminform"].form.errors
    added = User.objects.get(email="added@example.com")
    assert added.check_password(STRONG)
    assert not added.is_staff


def test_add_form_refuses_a_duplicate_email_in_any_case(admin_session, user):
    response = admin_session.post(
        reverse("admin:accounts_user_add"),
        {"email": "ADA@example.com", "password1": STRONG, "password2": STRONG},
    )

    assert response.status_code == HTTPStatus.OK
    assert "already exists" in response.content.decode()
    assert User.objects.filter(email__iexact="ada@example.com").count() == 1


def test_add_form_refuses_a_weak_password(admin_session):
    response = admin_session.post(
        reverse("admin:accounts_user_add"),
        {"email": "weak@example.com", "password1": "123", "password2": "123"},
    )

    assert response.status_code == HTTPStatus.OK
    assert not User.objects.filter(email="weak@example.com").exists()


def change_data(user: User, **overrides) -> dict:
    data = {
        "email": user.email,
        "display_name": user.display_name,
        "api_hourly_limit": "",
        "is_active": "on",
        "date_joined_0": "2026-01-01",
        "date_joined_1": "00:00:00",
        **overrides,
    }
    return {key: value for key, value in data.items() if value is not None}


def test_change_form_edits_hourly_limit_and_active_flag(admin_session, user):
    url = reverse("admin:accounts_user_change", args=[user.pk])
    page = admin_session.get(url).content.decode()
    assert 'name="api_hourly_limit"' in page
    assert 'name="is_active"' in page

    response = admin_session.post(url, change_data(user, api_hourly_limit="50", is_active=None))

    assert response.status_code == HTTPStatus.FOUND, response.context["adminform"].form.errors
    user.refresh_from_db()
    assert user.api_hourly_limit == 50
    assert not user.is_active


def test_change_form_refuses_another_accounts_email_in_any_case(admin_session, user, other_user):
    url = reverse("admin:accounts_user_change", args=[user.pk])

    response = admin_session.post(url, change_data(user, email="GRACE@example.com"))

    assert response.status_code == HTTPStatus.OK
    assert "Another account already uses this email address." in response.content.decode()
    user.refresh_from_db()
    assert user.email == "ada@example.com"


def test_change_form_never_shows_the_password_hash(admin_session, user):
    page = admin_session.get(reverse("admin:accounts_user_change", args=[user.pk]))

    assert user.password not in page.content.decode()


def test_admin_password_change_page_works(admin_session, user):
    url = reverse("admin:auth_user_password_change", args=[user.pk])

    response = admin_session.post(url, {"password1": STRONG, "password2": STRONG})

    assert response.status_code == HTTPStatus.FOUND
    user.refresh_from_db()
    assert user.check_password(STRONG)


class TestAdminLogin:
    def test_admin_login_is_done_on_the_portal_login_page(self, client):
        response = client.get(reverse("admin:index"), follow=True)

        assert response.redirect_chain[-1][0] == (
            reverse("accounts:login") + "?next=" + reverse("admin:index")
        )

    def test_staff_logs_in_on_the_portal_and_lands_in_the_admin(self, client, superuser):
        response = client.post(
            reverse("accounts:login"),
            {"username": superuser.email, "password": DEFAULT_PASSWORD, "next": "/admin/"},
            follow=True,
        )

        assert response.redirect_chain[-1][0] == "/admin/"
        assert response.status_code == HTTPStatus.OK

    def test_a_logged_in_non_staff_account_is_sent_to_its_api_tokens(self, user_client):
        response = user_client.get(reverse("admin:index"), follow=True)

        assert response.redirect_chain[-1][0] == reverse("apitokens:list")
        assert "does not have access to the admin" in response.content.decode()

    def test_posting_to_the_admin_login_url_never_logs_in(self, client, superuser):
        client.post(
            reverse("admin:login"), {"username": superuser.email, "password": DEFAULT_PASSWORD}
        )

        assert SESSION_KEY not in client.session

    def test_staff_visiting_admin_login_goes_to_next(self, client):
        staff = UserFactory(is_staff=True)
        client.force_login(staff)

        response = client.get(reverse("admin:login"), {"next": "/admin/"})

        assert response.url == "/admin/"


LOGIN_URL = reverse("accounts:login")


AGENT = "Mozilla/5.0 (X11; Linux) TestBrowser/1.0"


def sign_in(client: Client, user, password: str = DEFAULT_PASSWORD):
    return client.post(
        LOGIN_URL,
        {"username": user.email, "password": password},
        REMOTE_ADDR="203.0.113.5",
        HTTP_USER_AGENT=AGENT,
    )


def test_staff_see_the_events_in_the_admin_read_only(client, user):
    staff = UserFactory(is_staff=True, is_superuser=True)
    sign_in(Client(), user)
    client.force_login(staff)

    changelist = client.get(reverse("admin:accounts_accountevent_changelist"))
    event = user.account_events.get()
    detail = client.get(reverse("admin:accounts_accountevent_change", args=[event.pk]))

    assert changelist.status_code == HTTPStatus.OK
    assert user.email in changelist.content.decode()
    assert detail.status_code == HTTPStatus.OK
    assert 'name="_save"' not in detail.content.decode()
    add = client.get(reverse("admin:accounts_accountevent_add"))
    assert add.status_code == HTTPStatus.FORBIDDEN
