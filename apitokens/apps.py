from django.apps import AppConfig


class ApiTokensConfig(AppConfig):
    name = "apitokens"
    # "API", so the breadcrumb reads "Home › API › API tokens", not "API tokens › API tokens".
    verbose_name = "API"

    def ready(self) -> None:
        from accounts.signals import account_claimed, account_event_recorded
        from apitokens.signals import account_event_stream, tokens_revoke_on_claim

        # Taking over an account deletes its tokens; accounts only sends the signal.
        account_claimed.connect(tokens_revoke_on_claim, dispatch_uid="apitokens.tokens_on_claim")
        # Every account security-log row is streamed to staff webhooks that subscribe.
        account_event_recorded.connect(
            account_event_stream, dispatch_uid="apitokens.webhooks.account_events"
        )
