"""Synced Gmail threads and messages."""
