"""Contracts between the Kampung KB services. Imports none of them."""
