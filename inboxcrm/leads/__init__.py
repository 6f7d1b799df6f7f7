"""Leads and companies: the leads table, search, notes, the JSON API."""
