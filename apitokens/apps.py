from django.apps import AppConfig


class ApiTokensConfig(AppConfig):
    name = "apitokens"
    # "API", so the breadcrumb reads "Home › API › API tokens", not "API tokens › API tokens".
    verbose_name = "API"

    def ready(self) -> None:
        from accounts.signals import account_claimed
        from apitokens.signals import tokens_revoke_on_claim

        # Taking over an account deletes its tokens; accounts only sends the signal.
        account_claimed.connect(tokens_revoke_on_claim, dispatch_uid="apitokens.tokens_on_claim")
