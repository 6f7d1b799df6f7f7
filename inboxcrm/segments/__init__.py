"""Saved segments: live filters over leads, compiled to one query."""
