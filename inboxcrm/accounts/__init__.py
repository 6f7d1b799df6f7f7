"""Workspaces, members, sign-in, API tokens and mailboxes."""
