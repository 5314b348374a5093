"""Create the demo account (idempotent) and print how to log in."""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand

from accounts.models import User
from apitokens import demo

DEMO_EMAIL = "demo@quickbot.local"


class Command(BaseCommand):
    help = "Create or refresh the demo account demo@quickbot.local and print its login."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--url",
            default=settings.QUICKBOT_SITE_URL,
            help="Where the portal will be served, for the printed login link.",
        )

    def handle(self, *args, url: str, **options) -> None:
        password = settings.QUICKBOT_DEMO_PASSWORD
        user = User.objects.filter(email__iexact=DEMO_EMAIL).first()
        if user is None:
            user = User.objects.create_user(DEMO_EMAIL, password, display_name="Demo User")
            verb = "Created"
        else:
            user.set_password(password)
            user.is_active = True
            user.save(update_fields=["password", "is_active"])
            verb = "Refreshed"
        self.stdout.write(self.style.SUCCESS(f"{verb} the demo account."))
        added = demo.demo_data_seed(user=user)
        if added:
            # Sample token values are never printed: they are dropped right after hashing.
            self.stdout.write(f"Added {added} sample API tokens with a month of activity.")
        self.stdout.write("")
        self.stdout.write(f"  Open      {url.rstrip('/')}/account/login/")
        self.stdout.write(f"  Email     {DEMO_EMAIL}")
        self.stdout.write(f"  Password  {password}")
        self.stdout.write("")
