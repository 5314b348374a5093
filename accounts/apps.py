from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in

        from accounts.sudo import grant_on_login
        from common.background import background_connect_signals

        # Every way of signing in (login form, admin, tests' force_login) starts sudo mode.
        user_logged_in.connect(grant_on_login, dispatch_uid="accounts.sudo.grant_on_login")

        # Before the first request: work a request defers (password reset, leak reports)
        # starts once its response has been sent. accounts is the lowest app that defers.
        background_connect_signals()
