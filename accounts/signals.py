"""Signals accounts sends for the layers above it, which accounts must not import."""

from __future__ import annotations

from django.dispatch import Signal

# Sent inside the transaction of `accounts.services.account_claim`, with `user` (the account
# the address's owner has just taken) and `request`. A receiver removes what the claimant
# set up in its own app (apitokens: every token) and returns how many it removed.
account_claimed = Signal()

# Sent by `accounts.services.account_event_record` once an AccountEvent row is written, with
# `event`: apitokens streams it to the staff webhook endpoints that subscribe to the audit log.
account_event_recorded = Signal()
