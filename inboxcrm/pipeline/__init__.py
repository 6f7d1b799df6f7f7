"""Stages and stage changes."""
