from django.apps import AppConfig


class ApiTokensConfig(AppConfig):
    name = "apitokens"
    # "API", so the breadcrumb reads "Home › API › API tokens", not "API tokens › API tokens".
    verbose_name = "API"

    def ready(self) -> None:
        from accounts.signals import (
            account_access_end_preview,
            account_access_ended_by_staff,
            account_claimed,
            account_event_recorded,
        )
        from apitokens.signals import (
            account_event_stream,
            tokens_preview_for_staff_end,
            tokens_revoke_on_claim,
            tokens_revoke_on_staff_end,
        )

        # Taking over an account deletes its tokens; accounts only sends the signal.
        account_claimed.connect(tokens_revoke_on_claim, dispatch_uid="apitokens.tokens_on_claim")
        # Staff ending an account's access (the user admin) deletes its tokens too.
        account_access_ended_by_staff.connect(
            tokens_revoke_on_staff_end, dispatch_uid="apitokens.tokens_on_staff_end"
        )
        account_access_end_preview.connect(
            tokens_preview_for_staff_end, dispatch_uid="apitokens.tokens_staff_end_preview"
        )
        # Every account security-log row is streamed to staff webhooks that subscribe.
        account_event_recorded.connect(
            account_event_stream, dispatch_uid="apitokens.webhooks.account_events"
        )
