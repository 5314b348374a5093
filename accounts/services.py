"""Actions on accounts: sign up, email verification, taking over an unconfirmed
account, password reset emails, the security log's rows, ending other sessions, and
staff ending every session of an account (with its API tokens, through a signal).

Every email is a task (`common.tasks`): the request queues it, the task worker builds and
sends it with links from QUICKBOT_SITE_URL, so neither the answer nor its timing tells
whether an address has an account.
"""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth.hashers import make_password
from django.contrib.auth.tokens import default_token_generator
from django.db import IntegrityError, transaction
from django.db.models import F
from django.http import HttpRequest
from django.tasks import task
from django.urls import reverse
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from accounts.login_limiter import verification_email_allowed
from accounts.models import AccountEvent, User
from accounts.signals import account_access_ended_by_staff, account_claimed, account_event_recorded
from accounts.tokens import email_verification_token_generator
from accounts.two_factor import two_factor_disable
from common.clientip import client_ip
from common.mail import mail_dispatch, mail_send_or_raise, site_url, templated_message
from common.tasks import task_enqueue


def seconds_in_words(seconds: int) -> str:
    """A lifetime in words: "3 days", "1 hour", "90 seconds"."""
    for unit_seconds, unit in ((86400, "day"), (3600, "hour"), (60, "minute")):
        if seconds >= unit_seconds and seconds % unit_seconds == 0:
            count = seconds // unit_seconds
            return f"{count} {unit}{'' if count == 1 else 's'}"
    return f"{seconds} seconds"


def _uid(user: User) -> str:
    return urlsafe_base64_encode(force_bytes(user.pk))


def _verify_url(user: User) -> str:
    token = email_verification_token_generator.make_token(user)
    return site_url(reverse("accounts:verify_email", kwargs={"uidb64": _uid(user), "token": token}))


def account_signup(*, email: str, display_name: str, password: str) -> User | None:
    """Create an unverified account and email it a verification link; if the address
    already has an account, email its owner instead and change nothing.

    Returns the new account, or None when the address was taken. Both paths hash the
    password once and queue at most one email, so they cost the same.
    """
    existing = User.objects.filter(email__iexact=email).first()
    if existing is None:
        try:
            with transaction.atomic():
                user = User.objects.create_user(email, password, display_name=display_name)
        except IntegrityError:
            # Two sign-ups with the same address at once: the database refused this one.
            existing = User.objects.filter(email__iexact=email).first()
        else:
            email_verification_send(user=user)
            return user
    make_password(password)  # the same work as creating the account
    if existing is not None and existing.is_active:
        signup_existing_notify(user=existing)
    return None


def email_verification_send(*, user: User) -> bool:
    """Queue an email with a fresh verification link (at most 3 an hour per address; the
    link is made by the task worker, never stored); False if withheld."""
    if not verification_email_allowed(email=user.email):
        return False
    task_enqueue(email_verification_email_send, user_id=user.pk)
    return True


def signup_existing_notify(*, user: User) -> bool:
    """Queue an email telling an account's owner that someone tried to sign up with their
    address, with links to log in or reset the password (and to verify, if not done yet)."""
    if not verification_email_allowed(email=user.email):
        return False
    task_enqueue(signup_existing_email_send, user_id=user.pk)
    return True


@task
def email_verification_email_send(*, user_id: int) -> None:
    """The task: email the account a fresh verification link, if it is still unverified."""
    user = User.objects.filter(pk=user_id, email_verified_at__isnull=True).first()
    if user is None:
        return
    context = {
        "email": user.email,
        "verify_url": _verify_url(user),
        "link_lifetime": seconds_in_words(settings.QUICKBOT_EMAIL_VERIFICATION_SECONDS),
    }
    mail_send_or_raise(
        templated_message(
            to=user.email,
            subject="Confirm your email address for QuickBot",
            template="accounts/email/verify_email.txt",
            context=context,
        ),
        kind="email_verification",
    )


@task
def signup_existing_email_send(*, user_id: int) -> None:
    """The task: tell an active account's owner that someone tried to sign up with it."""
    user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is None:
        return
    context = {
        "email": user.email,
        "login_url": site_url(reverse("accounts:login")),
        "reset_url": site_url(reverse("accounts:password_reset")),
        "verify_url": "" if user.email_verified else _verify_url(user),
        "link_lifetime": seconds_in_words(settings.QUICKBOT_EMAIL_VERIFICATION_SECONDS),
    }
    mail_send_or_raise(
        templated_message(
            to=user.email,
            subject="Someone tried to sign up to QuickBot with your email address",
            template="accounts/email/signup_existing.txt",
            context=context,
        ),
        kind="signup_existing",
    )


def email_verify(*, user: User, now: datetime | None = None) -> bool:
    """Mark the account's address as verified; False if it already was."""
    now = now or timezone.now()
    updated = User.objects.filter(pk=user.pk, email_verified_at__isnull=True).update(
        email_verified_at=now
    )
    if updated:
        user.email_verified_at = now
    return bool(updated)


def password_reset_request(*, email: str) -> None:
    """Queue `email` for the task worker, known address or not: the account lookup, the
    reset link and the email all happen there, so an address with an account costs the
    request exactly what an unknown one does (one queued task)."""
    task_enqueue(password_reset_email_send, email=email)


@task
def password_reset_email_send(*, email: str) -> None:
    """The task: a reset link to the active account with this address and a usable
    password, if there is one."""
    user = User.objects.filter(email__iexact=email, is_active=True).first()
    if user is None or not user.has_usable_password():
        return
    token = default_token_generator.make_token(user)
    context = {
        "email": user.email,
        "reset_url": site_url(
            reverse(
                "accounts:password_reset_confirm",
                kwargs={"uidb64": _uid(user), "token": token},
            )
        ),
        "link_lifetime": seconds_in_words(settings.PASSWORD_RESET_TIMEOUT),
    }
    message = templated_message(
        to=user.email,
        subject="Reset your QuickBot password",
        template="accounts/email/password_reset_email.txt",
        context=context,
    )
    mail_send_or_raise(message, kind="password_reset")


def account_claim(*, user: User, password: str, request: HttpRequest | None = None) -> bool:
    """The owner of an unconfirmed address takes the account fresh: her password, the
    address confirmed, every session ended, the claimant's two-factor and recovery codes
    removed, and (through `account_claimed`) every API token deleted; one security-log row.

    False, changing nothing, if the address was confirmed meanwhile (a second tab, a race).
    """
    now = timezone.now()
    with transaction.atomic():
        # The guarded update makes the claim happen once, even for two submits at once.
        claimed = User.objects.filter(pk=user.pk, email_verified_at__isnull=True).update(
            email_verified_at=now, sessions_version=F("sessions_version") + 1
        )
        if not claimed:
            return False
        user.refresh_from_db(fields=["email_verified_at", "sessions_version"])
        user.set_password(password)
        user.save(update_fields=["password"])
        two_factor_removed = two_factor_disable(user=user)
        responses = account_claimed.send(sender=User, user=user, request=request)
        tokens_deleted = sum(count for _, count in responses if isinstance(count, int))
        removed = ["all sessions ended"]
        if two_factor_removed:
            removed.append("two-factor removed")
        if tokens_deleted:
            plural = "" if tokens_deleted == 1 else "s"
            removed.append(f"{tokens_deleted} API token{plural} deleted")
        account_event_record(
            user=user,
            kind=AccountEvent.Kind.ACCOUNT_CLAIMED,
            request=request,
            detail=f"Password set from the emailed link; {', '.join(removed)}",
        )
    return True


def account_event_record(
    *, user: User, kind: str, request: HttpRequest | None = None, detail: str = ""
) -> AccountEvent:
    """Append one line to the account's security log, with the request's IP and browser
    (and tell the layers above: `account_event_recorded`)."""
    event = AccountEvent.objects.create(
        user=user,
        kind=kind,
        detail=detail[:120],
        ip=client_ip(request) if request is not None else None,
        # NUL: PostgreSQL refuses it in text, and no browser sends one.
        user_agent=request.headers.get("User-Agent", "").replace("\x00", "")[:256]
        if request is not None
        else "",
    )
    account_event_recorded.send(sender=AccountEvent, event=event)
    return event


def sessions_end_others(*, request: HttpRequest) -> None:
    """End every session of the signed-in account except this one."""
    user = request.user
    User.objects.filter(pk=user.pk).update(sessions_version=F("sessions_version") + 1)
    user.refresh_from_db(fields=["sessions_version"])
    update_session_auth_hash(request, user)
    account_event_record(user=user, kind=AccountEvent.Kind.SIGNED_OUT_OTHERS, request=request)


def account_access_end_by_staff(
    *, user: User, actor: User, expected_sessions_version: int, request: HttpRequest | None = None
) -> int | None:
    """Staff end every session of `user` (sudo state goes with them) and, through
    `account_access_ended_by_staff`, delete every API token; one security-log row and ONE
    email to the owner, in one transaction.

    Returns how many API tokens were deleted, or None, changing nothing, when the account's
    sessions were ended meanwhile (`expected_sessions_version` is stale: a double submit).
    """
    with transaction.atomic():
        # The guarded update makes a double submit (or two staff at once) act once.
        ended = User.objects.filter(pk=user.pk, sessions_version=expected_sessions_version).update(
            sessions_version=F("sessions_version") + 1
        )
        if not ended:
            return None
        user.refresh_from_db(fields=["sessions_version"])
        responses = account_access_ended_by_staff.send(
            sender=User, user=user, actor=actor, request=request
        )
        tokens_deleted = sum(count for _, count in responses if isinstance(count, int))
        plural = "" if tokens_deleted == 1 else "s"
        # No request: the owner's log would show the staff member's address and browser.
        account_event_record(
            user=user,
            kind=AccountEvent.Kind.SESSIONS_ENDED_BY_STAFF,
            detail=f"By QuickBot staff; {tokens_deleted} API token{plural} deleted",
        )
        context = {
            "email": user.email,
            "tokens_deleted": tokens_deleted,
            "login_url": site_url(reverse("accounts:login")),
            "reset_url": site_url(reverse("accounts:password_reset")),
        }
        mail_dispatch(
            "sessions_ended_by_staff",
            lambda: templated_message(
                to=context["email"],
                subject="QuickBot staff signed your account out everywhere",
                template="accounts/email/sessions_ended_by_staff.txt",
                context=context,
            ),
        )
    return tokens_deleted
