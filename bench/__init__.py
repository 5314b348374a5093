"""`make bench`: the API path's cost against a plain Django view (issue 5)."""
