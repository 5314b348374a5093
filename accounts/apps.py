from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in

        from accounts.sudo import grant_on_login

        # Every way of signing in (login form, admin, tests' force_login) starts sudo mode.
        user_logged_in.connect(grant_on_login, dispatch_uid="accounts.sudo.grant_on_login")
