"""Pieces both apps share, below `accounts` and `apitokens` (they import nothing of ours)."""
