"""Emails to a token's owner, by sub-domain:

- `events`: one token's lifecycle (created, regenerated, expiry changed, paused or
  resumed, deleted or exposed, a dead token used) and the expiry reminder's message;
- `reminders`: when a token is due for an expiry reminder, and the command's run;
- `digests`: the weekly stale-token digest and its run;
- `overlaps`: the warning an hour before a regenerate's overlap ends while its old value is
  still in use, and its run;
- `context`: what every such email shows alike (greeting, times, links);
- `sending`: after commit through the task worker, or at once for the commands.

Sending never slows or breaks the action that caused it: the message is built after the
database transaction commits (`transaction.on_commit`) and queued as a task
(`common.mail.mail_send`) that the task worker sends, again later if the mail server
refuses it. A failure to render is logged and swallowed. Messages never contain a token
value, only its name and identifier; text someone else may have chosen (the token's name,
the requester's User-Agent, the owner's display name) goes through `common.mail.mail_text`,
and the greeting uses the display name only once the address is confirmed.
"""

from __future__ import annotations

from apitokens.notifications.context import greeting_name
from apitokens.notifications.digests import (
    STALE_DIGEST_INTERVAL,
    DigestRun,
    send_stale_digests,
    stale_digest_message,
)
from apitokens.notifications.events import (
    EXPOSED_WORDING,
    Origin,
    expiry_reminder_message,
    notify_dead_token_used,
    notify_overlap_ended,
    notify_token_created,
    notify_token_deleted,
    notify_token_expiry_changed,
    notify_token_paused,
    notify_token_regenerated,
    notify_token_resumed,
)
from apitokens.notifications.overlaps import (
    OVERLAP_WARNING_AHEAD,
    OverlapWarningRun,
    overlap_warning_message,
    send_overlap_warnings,
)
from apitokens.notifications.reminders import (
    REMINDER_WINDOWS,
    ReminderRun,
    due_reminder,
    send_expiry_reminders,
)
from apitokens.notifications.sending import send_now

__all__ = [
    "EXPOSED_WORDING",
    "OVERLAP_WARNING_AHEAD",
    "REMINDER_WINDOWS",
    "STALE_DIGEST_INTERVAL",
    "DigestRun",
    "Origin",
    "OverlapWarningRun",
    "ReminderRun",
    "due_reminder",
    "expiry_reminder_message",
    "greeting_name",
    "notify_dead_token_used",
    "notify_overlap_ended",
    "notify_token_created",
    "notify_token_deleted",
    "notify_token_expiry_changed",
    "notify_token_paused",
    "notify_token_regenerated",
    "overlap_warning_message",
    "notify_token_resumed",
    "send_expiry_reminders",
    "send_now",
    "send_overlap_warnings",
    "send_stale_digests",
    "stale_digest_message",
]
