"""Create the demo account (idempotent) and print how to log in."""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.utils import timezone

from accounts.models import User
from apitokens import demo

DEMO_EMAIL = "demo@quickbot.local"


def database_vendor() -> str:
    """The default database's kind: "sqlite" for the local file, else a server's."""
    return connection.vendor


def demo_refusal(*, vendor: str, debug: bool) -> str | None:
    """Why the demo account must not be created here without --force, or None.

    Only the embedded SQLite database of a local checkout qualifies: any database server
    (PostgreSQL, whatever DEBUG says, since manage.py turns DEBUG on when the variable is
    unset) or DEBUG off would give a real site an account whose password is public."""
    if vendor != "sqlite":
        return (
            f"seed_demo refused: the database is a {vendor} server, not the local SQLite "
            f"file, and the demo account {DEMO_EMAIL} would sign in there with the password "
            "printed in the README, whatever DEBUG says. Run it on a local checkout "
            "without DATABASE_URL, or pass --force if this really is a throwaway instance."
        )
    if not debug:
        return (
            "seed_demo refused: DEBUG is off, so this looks like a production site, and "
            f"the demo account {DEMO_EMAIL} would sign in with the password printed in "
            "the README. Run it on a local setup (manage.py turns DEBUG on), or pass "
            "--force if this really is a throwaway instance."
        )
    return None


class Command(BaseCommand):
    help = "Create or refresh the demo account demo@quickbot.local and print its login."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--url",
            default=settings.QUICKBOT_SITE_URL,
            help="Where the portal will be served, for the printed login link.",
        )
        parser.add_argument(
            "--force",
            action="store_true",
            help="Run on a database server (PostgreSQL) or with DEBUG off: only for a "
            "throwaway instance, since the demo password is public.",
        )

    def handle(self, *args, url: str, force: bool = False, **options) -> None:
        if not force and (refusal := demo_refusal(vendor=database_vendor(), debug=settings.DEBUG)):
            raise CommandError(refusal)
        password = settings.QUICKBOT_DEMO_PASSWORD
        user = User.objects.filter(email__iexact=DEMO_EMAIL).first()
        if user is None:
            # A made-up address cannot receive the link: the demo counts as verified.
            user = User.objects.create_user(
                DEMO_EMAIL, password, display_name="Demo User", email_verified_at=timezone.now()
            )
            verb = "Created"
        else:
            user.set_password(password)
            user.is_active = True
            user.email_verified_at = user.email_verified_at or timezone.now()
            user.save(update_fields=["password", "is_active", "email_verified_at"])
            verb = "Refreshed"
        self.stdout.write(self.style.SUCCESS(f"{verb} the demo account."))
        added = demo.demo_data_seed(user=user)
        if added:
            # Sample token values are never printed: they are dropped right after hashing.
            summary = demo.demo_tokens_summary(user=user)
            self.stdout.write(
                f"Added {added} sample API tokens with a month of activity: {summary}."
            )
        self.stdout.write("")
        self.stdout.write(f"  Open      {url.rstrip('/')}/account/login/")
        self.stdout.write(f"  Email     {DEMO_EMAIL}")
        self.stdout.write(f"  Password  {password}")
        self.stdout.write("")
