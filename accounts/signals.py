"""Signals accounts sends for the layers above it, which accounts must not import."""

from __future__ import annotations

from django.dispatch import Signal

# Sent inside the transaction of `accounts.services.account_claim`, with `user` (the account
# the address's owner has just taken) and `request`. A receiver removes what the claimant
# set up in its own app (apitokens: every token) and returns how many it removed.
account_claimed = Signal()

# Sent by the staff confirmation page of "Delete all tokens and end all sessions", with
# `user`. A receiver returns a list of short lines naming what the action would remove in
# its app (apitokens: each active token), for staff to read before confirming.
account_access_end_preview = Signal()

# Sent inside the transaction of `accounts.services.account_access_end_by_staff`, with
# `user`, `actor` (the staff member) and `request`. A receiver removes what the account
# holds in its app (apitokens: every active token, one security-log row each, no per-token
# email: accounts sends the owner one email) and returns how many it removed.
account_access_ended_by_staff = Signal()

# Sent by `accounts.services.account_event_record` once an AccountEvent row is written, with
# `event`: apitokens streams it to the staff webhook endpoints that subscribe to the audit log.
account_event_recorded = Signal()
