"""The outbox: every outgoing email is a Send row, sent exactly once or skipped or failed
with the reason why (docs/architecture.md, "Sending exactly once")."""
